package main

import (
	"errors"
	"os/exec"
	"strings"
	"testing"
)

// The layering of the packages, as an acceptance check: the hub, the storage interfaces,
// presence and what is kept about people build without NATS, so that a binary or a test
// that uses them links neither nats-server (and runs none of its init) nor, for most of
// them, the NATS client. Only the implementations (broker/jetstream, natsnode,
// presence/natsbus, archive) and main know NATS.
func TestPackagesWithoutNATS(t *testing.T) {
	const (
		natsServer = "github.com/nats-io/nats-server"
		natsClient = "github.com/nats-io/nats.go"
	)
	const mod = "github.com/distchat/distchat/"
	for pkg, forbidden := range map[string][]string{
		"server/hub":               {natsServer, natsClient},
		"server/broker":            {natsServer, natsClient},
		"server/broker/brokertest": {natsServer, natsClient},
		"server/presence":          {natsServer, natsClient},
		"server/people":            {natsServer, natsClient},
		"server/protocol":          {natsServer, natsClient},
		"server/ws":                {natsServer, natsClient},
		"server":                   {natsServer, natsClient},
	} {
		t.Run(pkg, func(t *testing.T) {
			t.Parallel()
			graph := imports(t, mod+pkg)
			for _, prefix := range forbidden {
				if chain := pathTo(graph, mod+pkg, prefix); chain != nil {
					t.Errorf("%s depends on %s: %s", pkg, prefix, strings.Join(chain, " -> "))
				}
			}
		})
	}
}

// TestPackagesWithoutNATSCanFail checks the check: the JetStream broker does depend on
// nats-server (through natsnode), and the chain says how.
func TestPackagesWithoutNATSCanFail(t *testing.T) {
	const pkg = "github.com/distchat/distchat/server/broker/jetstream"
	chain := pathTo(imports(t, pkg), pkg, "github.com/nats-io/nats-server")
	if len(chain) < 3 || chain[1] != "github.com/distchat/distchat/server/natsnode" {
		t.Fatalf("the chain from %s to nats-server: %v", pkg, chain)
	}
}

// imports returns the import graph of pkg and everything it depends on (test files
// excluded), from go list -deps.
func imports(t *testing.T, pkg string) map[string][]string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}{{range .Imports}} {{.}}{{end}}", pkg).Output()
	if err != nil {
		msg := ""
		if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
			msg = string(ee.Stderr)
		}
		t.Fatalf("go list -deps %s: %v\n%s", pkg, err, msg)
	}
	graph := map[string][]string{}
	for line := range strings.Lines(string(out)) {
		fields := strings.Fields(line)
		if len(fields) > 0 {
			graph[fields[0]] = fields[1:]
		}
	}
	if _, ok := graph[pkg]; !ok {
		t.Fatalf("go list -deps %s did not list the package itself", pkg)
	}
	return graph
}

// pathTo returns a chain of imports from pkg to a package whose path starts with prefix,
// or nil when there is none.
func pathTo(graph map[string][]string, pkg, prefix string) []string {
	from := map[string]string{pkg: ""}
	queue := []string{pkg}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if strings.HasPrefix(p, prefix) {
			var chain []string
			for ; p != ""; p = from[p] {
				chain = append([]string{p}, chain...)
			}
			return chain
		}
		for _, q := range graph[p] {
			if _, seen := from[q]; !seen {
				from[q] = p
				queue = append(queue, q)
			}
		}
	}
	return nil
}
