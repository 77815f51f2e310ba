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
	c, d := commit, date
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
	return fmt.Sprintf("distchat %s (commit %s, built %s)", version, c, d)
}
