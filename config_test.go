package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/distchat/distchat/server"
	"github.com/distchat/distchat/server/hub"
	"github.com/distchat/distchat/server/ws"
)

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "distchat.toml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestSettingsPrecedence sets values in the file, the environment and on the command line
// and checks that a flag wins over the environment, which wins over the file, which wins
// over the default.
func TestSettingsPrecedence(t *testing.T) {
	path := writeConfig(t, `
# every layer sets rate-burst; file and env set rate-limit; only the file sets the rest
rate-burst = 11
rate-limit = 3.5
addr = "127.0.0.1:7000"
room-max-age = "720h"
sync-always = true
cluster-listen = "127.0.0.1:6222"
cluster-peers = ["a:6222", "b:6222"]
cluster-secret = "a secret of thirty-two characters or more"
allowed-origins = "https://chat.example.com"
`)
	o, err := parseOptions([]string{"--config", path, "--rate-burst", "33"}, envOf(map[string]string{
		"DISTCHAT_RATE_BURST": "22",
		"DISTCHAT_RATE_LIMIT": "4",
	}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"rate-burst (flag)", o.rateBurst, 33},
		{"rate-limit (env)", o.rateLimit, 4.0},
		{"addr (file)", o.addr, "127.0.0.1:7000"},
		{"room-max-age (file)", o.roomMaxAge, 720 * time.Hour},
		{"sync-always (file)", o.syncAlways, true},
		{"cluster-peers (file, list)", o.clusterPeers, "a:6222,b:6222"},
		{"cluster-secret (file)", o.clusterKey.IsZero(), false},
		{"allowed-origins (file)", o.allowedOrigins, "https://chat.example.com"},
		{"send-queue (default)", o.sendQueue, ws.DefaultSendQueue},
		{"data (default)", o.data, defaultData},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}

	// The file may also be named by DISTCHAT_CONFIG; --config wins over it.
	o, err = parseOptions(nil, envOf(map[string]string{"DISTCHAT_CONFIG": path}), io.Discard)
	if err != nil || o.addr != "127.0.0.1:7000" || o.rateBurst != 11 {
		t.Fatalf("DISTCHAT_CONFIG: %+v, %v", o, err)
	}
	other := writeConfig(t, `addr = "127.0.0.1:7001"`)
	o, err = parseOptions([]string{"--config", other}, envOf(map[string]string{"DISTCHAT_CONFIG": path}), io.Discard)
	if err != nil || o.addr != "127.0.0.1:7001" || o.rateBurst != server.DefaultRateBurst {
		t.Fatalf("--config over DISTCHAT_CONFIG: %+v, %v", o, err)
	}
}

// TestDefaultsFromPackages checks that the command's defaults are the packages' own.
func TestDefaultsFromPackages(t *testing.T) {
	o, err := parseOptions(nil, noEnv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.maxMessageBytes != ws.DefaultMaxMessageBytes || o.maxBodyBytes != hub.DefaultMaxBodyBytes ||
		o.sendQueue != ws.DefaultSendQueue || o.flushInterval != hub.DefaultFlushInterval ||
		o.rateBurst != server.DefaultRateBurst || o.rateLimit != server.DefaultRateLimit {
		t.Fatalf("defaults %+v differ from the packages' constants", o)
	}
}

// TestSizes reads sizes with and without units, from flags, the environment and the file.
func TestSizes(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
	}{
		{"0", 0}, {"1234", 1234}, {"512B", 512}, {"10KB", 10_000}, {"64MiB", 64 << 20},
		{"20GiB", 20 << 30}, {"3 GB", 3_000_000_000}, {"2TiB", 2 << 40},
	} {
		o, err := parseOptions([]string{"--max-store-bytes", c.in}, envOf(nil), io.Discard)
		if err != nil {
			t.Errorf("--max-store-bytes %s: %v", c.in, err)
			continue
		}
		if o.maxStoreBytes != c.want {
			t.Errorf("--max-store-bytes %s = %d, want %d", c.in, o.maxStoreBytes, c.want)
		}
	}
	if _, err := parseOptions([]string{"--max-store-bytes", "-1"}, envOf(nil), io.Discard); err == nil || !strings.Contains(err.Error(), "negative") {
		t.Errorf("--max-store-bytes -1: err = %v, want a refusal", err)
	}
	if o, err := parseOptions([]string{"--max-queued-bytes", "-1"}, envOf(nil), io.Discard); err != nil || o.maxQueuedBytes != -1 {
		t.Errorf("--max-queued-bytes -1 (no limit): %v, %v", o, err)
	}
	for _, bad := range []string{"-1GiB", "ten", "5PB", "1.5GiB", "9999999TiB"} {
		if _, err := parseOptions([]string{"--max-store-bytes", bad}, envOf(nil), io.Discard); err == nil || !strings.Contains(err.Error(), "not a size") {
			t.Errorf("--max-store-bytes %s: err = %v, want a clear refusal", bad, err)
		}
	}
	o, err := parseOptions([]string{"--config", writeConfig(t, "max-store-bytes = \"1GiB\"\n")},
		envOf(map[string]string{"DISTCHAT_MAX_QUEUED_BYTES": "128MiB"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.maxStoreBytes != 1<<30 || o.maxQueuedBytes != 128<<20 {
		t.Errorf("from the file and the environment: max-store-bytes %d, max-queued-bytes %d", o.maxStoreBytes, o.maxQueuedBytes)
	}
}

func TestConfigFileErrors(t *testing.T) {
	for _, tt := range []struct {
		name, file, want string
	}{
		{"unknown key", "addr = \":1\"\nrate-limt = 5\n", `unknown key "rate-limt"`},
		{"flag-only key", `config = "other.toml"`, `unknown key "config"`},
		{"version is not a setting", `version = true`, `unknown key "version"`},
		{"table", "[server]\naddr = \":1\"\n", `unknown key "server"`},
		{"bad value", `rate-burst = "lots"`, `rate-burst = "lots": not a whole number`},
		{"bad type", `rate-limit = 2026-01-01`, "rate-limit: unsupported value"},
		{"bad list", `cluster-peers = [1, 2]`, "cluster-peers: a list must hold strings"},
		{"syntax", "addr = \n", "line 1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConfig(t, tt.file)
			var out, errOut bytes.Buffer
			code := run(context.Background(), []string{"--config", path}, noEnv, &out, &errOut)
			if code != 2 || !strings.Contains(errOut.String(), tt.want) || !strings.Contains(errOut.String(), path) {
				t.Fatalf("exit %d, stderr %q; want exit 2 naming %s and %q", code, errOut.String(), path, tt.want)
			}
		})
	}
	var errOut bytes.Buffer
	missing := filepath.Join(t.TempDir(), "none.toml")
	if code := run(context.Background(), []string{"--config", missing}, noEnv, io.Discard, &errOut); code != 2 || !strings.Contains(errOut.String(), "no such file") {
		t.Fatalf("missing file: exit %d, stderr %q", code, errOut.String())
	}
}

// TestHelpGroupsFlags checks that --help lists every flag once, in its group, on one line
// with its environment variable.
func TestHelpGroupsFlags(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"--help"}, noEnv, &out, &errOut); code != 0 {
		t.Fatalf("exit %d, stderr %s", code, errOut.String())
	}
	help := out.String()
	// Group headers in order.
	pos := -1
	var present []string
	for _, g := range groups {
		i := strings.Index(help, "\n"+g+":\n")
		if i < 0 {
			continue
		}
		if i < pos {
			t.Errorf("group %q out of order", g)
		}
		pos = i
		present = append(present, g)
	}
	if len(present) < 5 {
		t.Fatalf("help has groups %q:\n%s", present, help)
	}
	group := ""
	seen := map[string]string{}
	for _, line := range strings.Split(help, "\n") {
		if g, ok := strings.CutSuffix(line, ":"); ok && !strings.HasPrefix(line, " ") {
			group = g
			continue
		}
		f, ok := strings.CutPrefix(strings.TrimSpace(line), "--")
		if !ok || group == "" {
			continue
		}
		name, _, _ := strings.Cut(f, " ")
		if _, dup := seen[name]; dup {
			t.Errorf("--%s listed twice", name)
		}
		seen[name] = group
	}
	var o options
	for _, s := range settings(&o) {
		if seen[s.name] != s.group {
			t.Errorf("--%s is in group %q of the help, want %q", s.name, seen[s.name], s.group)
		}
		line := helpLine(help, s.name)
		if !s.cliOnly && !strings.Contains(line, "["+envName(s.name)+"]") {
			t.Errorf("help line of --%s lacks %s: %q", s.name, envName(s.name), line)
		}
	}
	if line := helpLine(help, "rate-burst"); !strings.Contains(line, "DISTCHAT_RATE_BURST") || !strings.Contains(line, "(default 30)") {
		t.Errorf("rate-burst line %q", line)
	}
}

func helpLine(help, name string) string {
	for _, line := range strings.Split(help, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "--"+name+" ") {
			return line
		}
	}
	return ""
}

// TestDocsListEveryFlag keeps the README's configuration table complete, and
// docs/operations.md explaining every operational flag.
func TestDocsListEveryFlag(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	ops, err := os.ReadFile(filepath.Join("docs", "operations.md"))
	if err != nil {
		t.Fatal(err)
	}
	operational := map[string]bool{
		"metrics-addr": true, "tls-cert": true, "tls-key": true, "config": true, "max-store-bytes": true,
		"max-rooms-per-conn": true, "max-rooms": true, "max-conns-per-ip": true, "trusted-proxies": true,
		"history-rate": true, "max-queued-bytes": true, "send-queue": true, "rate-limit": true,
		"max-message-bytes": true, "max-body-bytes": true, "secret": true, "auth-jwt-key": true,
		"allow-guests": true, "shutdown-timeout": true, "cluster-secret": true, "cluster-secret-file": true,
		"cluster-tls-cert": true, "cluster-tls-key": true, "cluster-tls-ca": true,
	}
	for _, s := range settings(&options{}) {
		if !strings.Contains(string(readme), "`--"+s.name+"`") {
			t.Errorf("README.md's configuration table lacks --%s", s.name)
		}
		if operational[s.name] && !strings.Contains(string(ops), "--"+s.name) {
			t.Errorf("docs/operations.md does not explain --%s", s.name)
		}
	}
}

// TestClusterSecretOptions: a clustered node needs the cluster secret, from a flag, the
// environment, the config file or a file only its owner reads; route TLS takes three
// files or none. A refused setting exits with 2 and names the flag.
func TestClusterSecretOptions(t *testing.T) {
	const secret = "a secret of thirty-two characters or more"
	cluster := []string{"--cluster-listen", "127.0.0.1:6222"}
	with := func(extra ...string) []string { return append(append([]string(nil), cluster...), extra...) }
	secretFile := func(content string, mode os.FileMode) string {
		path := filepath.Join(t.TempDir(), "cluster.secret")
		if err := os.WriteFile(path, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, mode); err != nil { // past the umask
			t.Fatal(err)
		}
		return path
	}
	for _, tt := range []struct {
		name string
		args []string
		env  map[string]string
		want string // in the error; "" for none
	}{
		{"clustered without a secret", cluster, nil, "--cluster-listen needs --cluster-secret"},
		{"secret on the command line", with("--cluster-secret", secret), nil, ""},
		{"secret in the environment", cluster, map[string]string{"DISTCHAT_CLUSTER_SECRET": secret}, ""},
		{"secret file", with("--cluster-secret-file", secretFile(secret+"\n", 0o600)), nil, ""},
		{"secret file in the environment", cluster, map[string]string{"DISTCHAT_CLUSTER_SECRET_FILE": secretFile(secret, 0o600)}, ""},
		{"short secret", with("--cluster-secret", "short"), nil, "--cluster-secret must have at least 32 characters"},
		{"short secret in a file", with("--cluster-secret-file", secretFile("short\n", 0o600)), nil, "at least 32 characters"},
		{"secret file others read", with("--cluster-secret-file", secretFile(secret, 0o644)), nil, "chmod 600"},
		{"missing secret file", with("--cluster-secret-file", filepath.Join(t.TempDir(), "none")), nil, "no such file"},
		{"both", with("--cluster-secret", secret, "--cluster-secret-file", secretFile(secret, 0o600)), nil, "set one"},
		{"a secret without a cluster", []string{"--cluster-secret", secret}, nil, "for the nodes of a cluster"},
		{"a secret for an external NATS", []string{"--nats-url", "nats://127.0.0.1:4222", "--cluster-secret", secret}, nil, ""},
		{"route TLS", with("--cluster-secret", secret, "--cluster-tls-cert", "c.pem", "--cluster-tls-key", "k.pem", "--cluster-tls-ca", "ca.pem"), nil, ""},
		{"route TLS without its CA", with("--cluster-secret", secret, "--cluster-tls-cert", "c.pem", "--cluster-tls-key", "k.pem"), nil, "set all three or none"},
		{"route TLS alone", []string{"--cluster-tls-ca", "ca.pem"}, nil, "set all three or none"},
		{"route TLS without routes", []string{"--cluster-tls-cert", "c.pem", "--cluster-tls-key", "k.pem", "--cluster-tls-ca", "ca.pem"}, nil, "routes of --cluster-listen"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if runtime.GOOS == "windows" && strings.Contains(tt.want, "chmod") {
				t.Skip("no group or others' rights on windows")
			}
			o, err := parseOptions(tt.args, envOf(tt.env), io.Discard)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if o.clusterKey.IsZero() && o.clusterListen != "" {
					t.Fatal("no cluster secret read")
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q in it", err, tt.want)
			}
			if strings.Contains(err.Error(), secret) {
				t.Fatalf("the error shows the secret: %v", err)
			}
		})
	}
	// The file's secret is its trimmed content: the same credentials as the flag's.
	a, _ := parseOptions(with("--cluster-secret", secret), noEnv, io.Discard)
	b, _ := parseOptions(with("--cluster-secret-file", secretFile("  "+secret+"\n\n", 0o600)), noEnv, io.Discard)
	if ua, _ := a.clusterKey.RouteCredentials(); ua != func() string { u, _ := b.clusterKey.RouteCredentials(); return u }() {
		t.Fatal("the secret file's content, trimmed, is not the secret")
	}

	// The command itself: exit status 2, the flag named, nothing started.
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"--addr", "127.0.0.1:0", "--data", t.TempDir(), "--cluster-listen", "127.0.0.1:0"}, noEnv, &out, &errOut)
	if code != 2 || !strings.Contains(errOut.String(), "--cluster-secret") || out.Len() != 0 {
		t.Fatalf("clustered without a secret: exit %d, stdout %q, stderr %q; want exit 2 naming --cluster-secret", code, out.String(), errOut.String())
	}
}
