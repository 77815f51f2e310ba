package natsnode

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRaftTimingVariablesExist reads nats-server's source (the module this build uses) and
// checks that every variable raft_timing.go sets is still a package variable of its server
// package: a go:linkname to one that is gone builds without a word.
func TestRaftTimingVariablesExist(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/nats-io/nats-server/v2").Output()
	if err != nil {
		t.Fatalf("finding nats-server's source: %v", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "server")
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no source in %s: %v", dir, err)
	}
	vars := map[string]bool{}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range file.Decls {
			if gd, ok := decl.(*ast.GenDecl); ok && gd.Tok == token.VAR {
				for _, spec := range gd.Specs {
					for _, name := range spec.(*ast.ValueSpec).Names {
						vars[name.Name] = true
					}
				}
			}
		}
	}
	for name, set := range map[string]time.Duration{
		"hbInterval":         natsHBInterval,
		"minElectionTimeout": natsMinElectionTimeout,
		"maxElectionTimeout": natsMaxElectionTimeout,
		"lostQuorumInterval": natsLostQuorumInterval,
		"lostQuorumCheck":    natsLostQuorumCheck,
	} {
		if !vars[name] {
			t.Errorf("nats-server has no package variable %s any more: raft_timing.go's linkname to it sets nothing (it is %v here)", name, set)
		}
	}
	if natsHBInterval != raftHeartbeat || natsLostQuorumCheck != raftLostQuorum {
		t.Errorf("raft timing not set: heartbeat %v, lost-quorum check %v", natsHBInterval, natsLostQuorumCheck)
	}
}
