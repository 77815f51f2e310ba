//go:build !linux

package main

func mountSmallDisk() {}
