package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/distchat/distchat/server"
	"github.com/distchat/distchat/server/hub"
	"github.com/distchat/distchat/server/ws"
)

// Defaults that belong to the command rather than to a package.
const (
	defaultAddr            = ":8080"
	defaultData            = "./data"
	defaultStore           = "jetstream"
	defaultClusterName     = "distchat"
	defaultRoomMaxMessages = 100_000
	defaultShutdownTimeout = 5 * time.Second
	defaultLogLevel        = "info"
	defaultLogFormat       = "text"
	envPrefix              = "DISTCHAT_"
)

// Groups of settings, in the order --help lists them.
const (
	groupServer  = "Server"
	groupStorage = "Storage"
	groupSignIn  = "Sign-in"
	groupCluster = "Cluster"
	groupLimits  = "Limits"
	groupTLS     = "TLS"
	groupLogging = "Logging and debugging"
)

var groups = []string{groupServer, groupStorage, groupCluster, groupSignIn, groupLimits, groupTLS, groupLogging}

// A setting is one option of the command. Its name is the flag (--name) and the key in the
// config file; DISTCHAT_<NAME> (upper case, '-' as '_') is its environment variable.
type setting struct {
	name  string
	group string
	arg   string // placeholder for the value in --help; empty for booleans
	usage string
	value flag.Value
	def   string // the default as text, for --help
	// cliOnly settings have no environment variable and no config file key.
	cliOnly bool
	// noFile settings have an environment variable but no config file key.
	noFile bool
}

// settings is the one table of distchat's options, with their defaults. It points every
// setting at its field in o and sets the field to the default.
func settings(o *options) []setting {
	return []setting{
		{name: "addr", group: groupServer, arg: "HOST:PORT", value: newString(&o.addr, defaultAddr),
			usage: "address to listen on; port 0 picks a free one"},
		{name: "allowed-origins", group: groupServer, arg: "LIST", value: newString(&o.allowedOrigins, ""),
			usage: `comma-separated origins allowed to open WebSockets besides the page's own ("*": any)`},
		{name: "public-url", group: groupServer, arg: "URL", value: newString(&o.publicURL, ""),
			usage: "the address people open, e.g. https://chat.example.com: its host is answered, and https makes the session cookie Secure"},
		{name: "allowed-hosts", group: groupServer, arg: "LIST", value: newString(&o.allowedHosts, ""),
			usage: `comma-separated further Host names answered ("*": any); IP addresses, localhost and this machine's name always are, other names get 421`},
		{name: "shutdown-timeout", group: groupServer, arg: "DURATION", value: newDuration(&o.shutdownTimeout, defaultShutdownTimeout),
			usage: "how long a graceful shutdown may take"},
		{name: "config", group: groupServer, arg: "FILE", value: newString(&o.configFile, ""), noFile: true,
			usage: "read settings from this TOML file (keys are the flag names; flags and environment win)"},
		{name: "version", group: groupServer, value: newBool(&o.showVersion, false), cliOnly: true,
			usage: "print the version, commit and build date, and exit"},

		{name: "data", group: groupStorage, arg: "DIR", value: newString(&o.data, defaultData),
			usage: "data directory: the embedded NATS JetStream store lives in <data>/jetstream"},
		{name: "store", group: groupStorage, arg: "KIND", value: newString(&o.store, defaultStore),
			usage: "jetstream (durable) or memory (nothing kept across restarts)"},
		{name: "nats-url", group: groupStorage, arg: "URL", value: newString(&o.natsURL, ""),
			usage: "use an external NATS server or cluster with JetStream instead of the embedded one"},
		{name: "room-max-messages", group: groupStorage, arg: "N", value: newInt64(&o.roomMaxMessages, defaultRoomMaxMessages),
			usage: "messages kept per room (0: no limit)"},
		{name: "room-max-age", group: groupStorage, arg: "DURATION", value: newDuration(&o.roomMaxAge, 0),
			usage: "drop messages older than this, e.g. 720h (0: keep forever)"},
		{name: "max-store-bytes", group: groupStorage, arg: "SIZE", value: newBytes(&o.maxStoreBytes, 0),
			usage: "size limit of the stored messages (per copy), e.g. 20GiB; past it the oldest are discarded (0: 70% of the disk's free space plus the store's own size; none with --nats-url); the embedded store lowers a limit its disk cannot hold"},
		{name: "sync-always", group: groupStorage, value: newBool(&o.syncAlways, false),
			usage: "fsync every message before acknowledging it (survives power loss; slower)"},

		{name: "node-name", group: groupCluster, arg: "NAME", value: newString(&o.nodeName, defaultNodeName()),
			usage: "this node's name: unique and stable in a cluster"},
		{name: "cluster-listen", group: groupCluster, arg: "HOST:PORT", value: newString(&o.clusterListen, ""),
			usage: "address for routes to the other nodes; setting it turns clustering on"},
		{name: "cluster-peers", group: groupCluster, arg: "LIST", value: newString(&o.clusterPeers, ""),
			usage: "comma-separated route addresses (HOST:PORT) of all nodes; this node's own may be included"},
		{name: "cluster-name", group: groupCluster, arg: "NAME", value: newString(&o.clusterName, defaultClusterName),
			usage: "the cluster's name; every node of a cluster uses the same"},
		{name: "cluster-secret", group: groupCluster, arg: "SECRET", value: newString(&o.clusterSecret, ""),
			usage: "secret (32+ characters) shared by every node: routes require it, and it seals the session key in storage; needed with --cluster-listen (a flag shows in ps: prefer --cluster-secret-file)"},
		{name: "cluster-secret-file", group: groupCluster, arg: "FILE", value: newString(&o.clusterSecretFile, ""),
			usage: "read --cluster-secret from this file (its content, trimmed; readable by its owner only)"},
		{name: "cluster-tls-cert", group: groupCluster, arg: "FILE", value: newString(&o.clusterTLSCert, ""),
			usage: "this node's route certificate (PEM): routes then use mutual TLS; with --cluster-tls-key and --cluster-tls-ca"},
		{name: "cluster-tls-key", group: groupCluster, arg: "FILE", value: newString(&o.clusterTLSKey, ""),
			usage: "private key (PEM) of --cluster-tls-cert"},
		{name: "cluster-tls-ca", group: groupCluster, arg: "FILE", value: newString(&o.clusterTLSCA, ""),
			usage: "CA certificate (PEM) that signed every node's route certificate: routes accept only peers it signed"},
		{name: "replicas", group: groupCluster, arg: "N", value: newInt(&o.replicas, 0),
			usage: "copies of each message kept by the cluster (0: 3 when clustered, capped by the nodes; 1 alone)"},

		{name: "max-message-bytes", group: groupLimits, arg: "N", value: newInt64(&o.maxMessageBytes, ws.DefaultMaxMessageBytes),
			usage: "largest WebSocket frame a client may send; larger closes with 1009"},
		{name: "max-body-bytes", group: groupLimits, arg: "N", value: newInt(&o.maxBodyBytes, hub.DefaultMaxBodyBytes),
			usage: "largest message body"},
		{name: "rate-limit", group: groupLimits, arg: "N", value: newFloat64(&o.rateLimit, server.DefaultRateLimit),
			usage: "requests per second per connection (0 disables)"},
		{name: "rate-burst", group: groupLimits, arg: "N", value: newInt(&o.rateBurst, server.DefaultRateBurst),
			usage: "requests a connection may send at once before the rate limit applies"},
		{name: "history-rate", group: groupLimits, arg: "N", value: newFloat64(&o.historyRate, hub.DefaultHistoryRate),
			usage: "history requests per second per connection, apart from --rate-limit (bursts of twice as many; 0 disables)"},
		{name: "max-rooms-per-conn", group: groupLimits, arg: "N", value: newInt(&o.maxRoomsPerConn, hub.DefaultMaxRoomsPerConn),
			usage: "rooms one connection may be in at once"},
		{name: "max-rooms", group: groupLimits, arg: "N", value: newInt(&o.maxRooms, hub.DefaultMaxRooms),
			usage: "rooms this node serves at once (rooms with members here)"},
		{name: "max-rooms-per-ip", group: groupLimits, arg: "N", value: newInt(&o.maxRoomsPerIP, hub.DefaultMaxRoomsPerIP),
			usage: "distinct rooms the connections of one client address may be in together; direct-message rooms apart (0: no limit)"},
		{name: "max-rooms-per-user", group: groupLimits, arg: "N", value: newInt(&o.maxRoomsPerUser, hub.DefaultMaxRoomsPerUser),
			usage: "distinct rooms the connections of one person may be in together; direct-message rooms apart (0: no limit)"},
		{name: "max-conns-per-ip", group: groupLimits, arg: "N", value: newInt(&o.maxConnsPerIP, server.DefaultMaxConnsPerIP),
			usage: "WebSockets open at once from one client address (0: no limit)"},
		{name: "trusted-proxies", group: groupLimits, arg: "LIST", value: newString(&o.trustedProxies, ""),
			usage: "comma-separated IPs or CIDRs of reverse proxies whose X-Forwarded-For names the client address"},
		{name: "max-queued-bytes", group: groupLimits, arg: "SIZE", value: newBytes(&o.maxQueuedBytes, ws.DefaultMaxQueuedBytes),
			usage: "bytes waiting in all send queues together; beyond it the connections furthest behind are closed (4008) (-1: no limit)"},
		{name: "send-queue", group: groupLimits, arg: "N", value: newInt(&o.sendQueue, ws.DefaultSendQueue),
			usage: "sends queued per connection before it counts as too slow (closed with 4008)"},
		{name: "flush-interval", group: groupLimits, arg: "DURATION", value: newDuration(&o.flushInterval, hub.DefaultFlushInterval),
			usage: "a busy room of 100 sends at most one frame per member per interval (others in proportion, up to 10x)"},
		{name: "write-gap", group: groupLimits, arg: "DURATION", value: newDuration(&o.writeGap, ws.DefaultWriteGap),
			usage: "while the node writes over 20,000 frames/s, a connection gets at most one frame per gap, carrying what arrived meanwhile (negative: off)"},

		{name: "secret", group: groupSignIn, arg: "SECRET", value: newString(&o.secret, ""),
			usage: "key (32+ characters) that signs session tokens; default: made once in <data>/session.key, or shared through the cluster's storage"},
		{name: "auth-jwt-key", group: groupSignIn, arg: "FILE", value: newString(&o.authJWTKey, ""),
			usage: "accept JWTs of your own sign-in: a PEM public key (RS/PS/ES/EdDSA) or an HMAC secret file; sub is the user id, name the display name"},
		{name: "auth-jwt-audience", group: groupSignIn, arg: "AUD", value: newString(&o.authJWTAudience, ""),
			usage: "with --auth-jwt-key, accept only JWTs whose aud names this (a warning at start when not set)"},
		{name: "auth-jwt-issuer", group: groupSignIn, arg: "ISS", value: newString(&o.authJWTIssuer, ""),
			usage: "with --auth-jwt-key, accept only JWTs whose iss is this (a warning at start when not set)"},
		{name: "session-ttl", group: groupSignIn, arg: "DURATION", value: newDuration(&o.sessionTTL, 0),
			usage: "how long a session token lasts after each connect (0: 2160h), and how long a session begun with a JWT of --auth-jwt-key outlives that JWT at most (0: 1h)"},
		{name: "admin-token", group: groupSignIn, arg: "TOKEN", value: newString(&o.adminToken, ""),
			usage: "opens the admin API (/api/admin/*, distchat admin) to whoever presents it as Authorization: Bearer (32+ characters); off when empty"},
		{name: "allow-guests", group: groupSignIn, value: newBool(&o.allowGuests, false),
			usage: "with --auth-jwt-key, also let people in without a token, as guests"},

		{name: "tls-cert", group: groupTLS, arg: "FILE", value: newString(&o.tlsCert, ""),
			usage: "certificate chain (PEM): serve HTTPS and wss:// directly; reloaded on SIGHUP"},
		{name: "tls-key", group: groupTLS, arg: "FILE", value: newString(&o.tlsKey, ""),
			usage: "private key (PEM) of --tls-cert"},

		{name: "log-level", group: groupLogging, arg: "LEVEL", value: newString(&o.logLevel, defaultLogLevel),
			usage: "debug, info, warn or error"},
		{name: "log-format", group: groupLogging, arg: "FORMAT", value: newString(&o.logFormat, defaultLogFormat),
			usage: "text or json (logs go to stderr)"},
		{name: "debug-addr", group: groupLogging, arg: "HOST:PORT", value: newString(&o.debugAddr, ""),
			usage: "serve Go's pprof profiles on this address (e.g. 127.0.0.1:6060); off by default"},
		{name: "metrics-addr", group: groupLogging, arg: "HOST:PORT", value: newString(&o.metricsAddr, ""),
			usage: "serve Prometheus metrics at /metrics on this address (e.g. 127.0.0.1:9090); off by default"},
	}
}

// envName is a setting's environment variable.
func envName(name string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// loadSettings fills o from, in order of precedence, the command line, the environment,
// the config file (--config or DISTCHAT_CONFIG) and the defaults. A request for help
// prints the grouped help to helpOut and returns flag.ErrHelp.
func loadSettings(o *options, args []string, getenv func(string) string, helpOut io.Writer) error {
	list := settings(o)
	fs := flag.NewFlagSet("distchat", flag.ContinueOnError)
	// Errors are returned, help is printed by printHelp: the flag package prints nothing.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	for i := range list {
		s := &list[i]
		s.def = s.value.String()
		fs.Var(s.value, s.name, s.usage)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printHelp(helpOut, list)
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	onCommandLine := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { onCommandLine[f.Name] = true })

	var errs []error
	fromEnv := map[string]bool{}
	for _, s := range list {
		if onCommandLine[s.name] || s.cliOnly {
			continue
		}
		if v := getenv(envName(s.name)); v != "" {
			fromEnv[s.name] = true
			if err := s.value.Set(v); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: %w", envName(s.name), v, err))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if o.configFile == "" {
		return nil
	}
	file, err := readConfigFile(o.configFile, list)
	if err != nil {
		return err
	}
	for _, s := range list {
		v, ok := file[s.name]
		if !ok || onCommandLine[s.name] || fromEnv[s.name] {
			continue
		}
		if err := s.value.Set(v); err != nil {
			errs = append(errs, fmt.Errorf("%s: %s = %q: %w", o.configFile, s.name, v, err))
		}
	}
	return errors.Join(errs...)
}

// readConfigFile reads a TOML file of settings (keys are flag names) and returns each value
// as the text a flag would take. Unknown keys are errors.
func readConfigFile(path string, list []setting) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	defer f.Close()
	var raw map[string]any
	if _, err := toml.NewDecoder(f).Decode(&raw); err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	known := map[string]setting{}
	for _, s := range list {
		if !s.cliOnly && !s.noFile {
			known[s.name] = s
		}
	}
	out := make(map[string]string, len(raw))
	var errs []error
	for key, v := range raw {
		if _, ok := known[key]; !ok {
			errs = append(errs, fmt.Errorf("config file %s: unknown key %q", path, key))
			continue
		}
		text, err := tomlText(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("config file %s: %s: %w", path, key, err))
			continue
		}
		out[key] = text
	}
	return out, errors.Join(errs...)
}

// tomlText turns a TOML value into flag text. Arrays of strings become comma-separated lists
// (cluster-peers = ["a:6222", "b:6222"]).
func tomlText(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64), nil
	case bool:
		return strconv.FormatBool(v), nil
	case []any:
		parts := make([]string, 0, len(v))
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				return "", fmt.Errorf("a list must hold strings, not %T", e)
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, ","), nil
	}
	return "", fmt.Errorf("unsupported value of type %T (use a string, number or boolean)", v)
}

// printHelp lists the subcommands and then every setting by group, one line each.
func printHelp(w io.Writer, list []setting) {
	fmt.Fprint(w, `distchat: a real-time chat server with its web UI inside.

Usage:
  distchat [flags]                          serve chat (http://localhost:8080 by default)
  distchat backup  --data DIR --out FILE    back up a stopped node's data directory
  distchat restore --data DIR --in FILE     restore a backup into an empty data directory
  distchat export  --data DIR --room NAME   print a room's messages as JSON lines
  distchat admin   --url URL --token T ...  revoke a person's sessions, rotate the session key
  distchat COMMAND --help                   the flags of a command

Flags can also be set with the environment variable in brackets, or in the --config file
(TOML; keys are the flag names). A flag wins over the environment, which wins over the file.
`)
	width := 0
	for _, s := range list {
		width = max(width, len(flagColumn(s)))
	}
	for _, g := range groups {
		header := false
		for _, s := range list {
			if s.group != g {
				continue
			}
			if !header {
				fmt.Fprintf(w, "\n%s:\n", g)
				header = true
			}
			line := fmt.Sprintf("  %-*s  %s", width, flagColumn(s), s.usage)
			if !s.cliOnly {
				line += " [" + envName(s.name) + "]"
			}
			if s.def != "" && s.def != "0" && s.def != "0s" && s.def != "false" {
				line += fmt.Sprintf(" (default %s)", s.def)
			}
			fmt.Fprintln(w, line)
		}
	}
}

func flagColumn(s setting) string {
	if s.arg == "" {
		return "--" + s.name
	}
	return "--" + s.name + " " + s.arg
}

// Flag values. Each constructor sets *p to the default and returns the flag.Value.
type (
	stringValue   string
	boolValue     bool
	intValue      int
	int64Value    int64
	bytesValue    int64
	float64Value  float64
	durationValue time.Duration
)

func newString(p *string, def string) flag.Value { *p = def; return (*stringValue)(p) }
func newBool(p *bool, def bool) flag.Value       { *p = def; return (*boolValue)(p) }
func newInt(p *int, def int) flag.Value          { *p = def; return (*intValue)(p) }
func newInt64(p *int64, def int64) flag.Value    { *p = def; return (*int64Value)(p) }
func newBytes(p *int64, def int64) flag.Value    { *p = def; return (*bytesValue)(p) }
func newFloat64(p *float64, def float64) flag.Value {
	*p = def
	return (*float64Value)(p)
}
func newDuration(p *time.Duration, def time.Duration) flag.Value {
	*p = def
	return (*durationValue)(p)
}

func (v *stringValue) Set(s string) error { *v = stringValue(s); return nil }
func (v *stringValue) String() string     { return string(*v) }
func (v *boolValue) Set(s string) error {
	b, err := strconv.ParseBool(s)
	if err != nil {
		return errors.New("not a boolean (true or false)")
	}
	*v = boolValue(b)
	return nil
}
func (v *boolValue) String() string   { return strconv.FormatBool(bool(*v)) }
func (v *boolValue) IsBoolFlag() bool { return true }
func (v *intValue) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil {
		return errors.New("not a whole number")
	}
	*v = intValue(n)
	return nil
}
func (v *intValue) String() string { return strconv.Itoa(int(*v)) }
func (v *int64Value) Set(s string) error {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return errors.New("not a whole number")
	}
	*v = int64Value(n)
	return nil
}
func (v *int64Value) String() string { return strconv.FormatInt(int64(*v), 10) }

// byteUnits are the suffixes a size may have: decimal (KB, MB, GB, TB) and binary (KiB,
// MiB, GiB, TiB); no suffix (or B) means bytes. A negative size (no unit) means "none" where
// the setting says so.
var byteUnits = []struct {
	suffix string
	n      int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1},
}

func (v *bytesValue) Set(s string) error {
	s = strings.TrimSpace(s)
	unit := int64(1)
	for _, u := range byteUnits {
		if rest, ok := strings.CutSuffix(s, u.suffix); ok {
			s, unit = strings.TrimSpace(rest), u.n
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || (n < 0 && unit > 1) || (unit > 1 && n > math.MaxInt64/unit) {
		return errors.New("not a size: a whole number of bytes, optionally with a unit (KB, MB, GB, TB, KiB, MiB, GiB, TiB)")
	}
	*v = bytesValue(n * unit)
	return nil
}
func (v *bytesValue) String() string {
	n := int64(*v)
	for _, u := range byteUnits[:4] {
		if n >= u.n && n%u.n == 0 && (n/u.n < 1024 || u.suffix == "TiB") {
			return strconv.FormatInt(n/u.n, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}
func (v *float64Value) Set(s string) error {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return errors.New("not a number")
	}
	*v = float64Value(f)
	return nil
}
func (v *float64Value) String() string { return strconv.FormatFloat(float64(*v), 'g', -1, 64) }
func (v *durationValue) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		return errors.New("not a duration (e.g. 500ms, 30s, 720h)")
	}
	*v = durationValue(d)
	return nil
}
func (v *durationValue) String() string { return time.Duration(*v).String() }
