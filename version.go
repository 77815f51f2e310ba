package main

import (
	"fmt"
	"runtime/debug"
)

// Build information, stamped by the Makefile with
// -ldflags "-X main.version=... -X main.commit=... -X main.date=...".
var (
	version = "dev"
	commit  = "unknown"
	date    = "unknown"
)

// versionLine is what --version prints: the version, the commit and the build date. A
// binary built without the Makefile (go install, go build) reports the commit Go recorded,
// when there is one.
func versionLine() string {
	c, d := stamp()
	return fmt.Sprintf("distchat %s (commit %s, built %s)", version, c, d)
}

// buildCommit is the commit the binary was built from, as --version prints it.
func buildCommit() string {
	c, _ := stamp()
	return c
}

// stamp returns the commit and the build date: the ones stamped by the Makefile, else
// those Go recorded, when there are any.
func stamp() (c, d string) {
	c, d = commit, date
	if info, ok := debug.ReadBuildInfo(); ok && c == "unknown" {
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				c = s.Value
			case "vcs.time":
				if d == "unknown" {
					d = s.Value
				}
			}
		}
	}
	return c, d
}
