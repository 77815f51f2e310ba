package main

import (
	"embed"
	"io/fs"
)

// The web UI, built by `npm run build` into web/dist. The folder holds a committed .gitkeep
// so that the module compiles before the UI is built; the server then serves a placeholder.
//
//go:embed all:web/dist
var webDist embed.FS

// uiFS returns the built UI rooted at web/dist.
func uiFS() fs.FS {
	sub, err := fs.Sub(webDist, "web/dist")
	if err != nil {
		panic(err) // the path is a constant that go:embed has checked
	}
	return sub
}
