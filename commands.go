package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/nats-io/nats.go"

	"github.com/distchat/distchat/server/archive"
	"github.com/distchat/distchat/server/broker/jetstream"
)

// A command is a subcommand of distchat: distchat NAME [flags].
type command struct {
	name    string
	summary string
	// run does the work; flags are parsed and checked.
	run func(ctx context.Context, f *commandFlags, stdout io.Writer) error
	// needs lists the flags the command requires besides --data or --nats-url.
	needs []string
}

// commandFlags are the flags of all subcommands; each uses some of them.
type commandFlags struct {
	data, natsURL, out, in, room string
}

func commands() []command {
	return []command{
		{name: "backup", needs: []string{"out"}, run: backupCommand,
			summary: "write a backup of a stopped node's data directory (--data DIR) to --out FILE"},
		{name: "restore", needs: []string{"in"}, run: restoreCommand,
			summary: "restore the backup --in FILE into an empty data directory (--data DIR)"},
		{name: "export", needs: []string{"room"}, run: exportCommand,
			summary: "print the messages of --room NAME in a stopped node's data directory (--data DIR) as JSON lines, oldest first"},
	}
}

// findCommand returns the subcommand args[0] names, if it names one.
func findCommand(args []string) (command, bool) {
	if len(args) == 0 {
		return command{}, false
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c, true
		}
	}
	return command{}, false
}

// runCommand runs a subcommand and returns the exit status: 0 on success, 2 for wrong
// flags, 1 when the work failed.
func runCommand(ctx context.Context, c command, args []string, stdout, stderr io.Writer) int {
	var f commandFlags
	fs := flag.NewFlagSet("distchat "+c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&f.data, "data", "", "the data directory (of a stopped node)")
	fs.StringVar(&f.natsURL, "nats-url", "", "instead of --data: a running NATS server with JetStream (as given to distchat --nats-url)")
	own := map[string]struct {
		p     *string
		usage string
	}{
		"out":  {&f.out, "the backup file to write (replaced if it exists)"},
		"in":   {&f.in, "the backup file to read"},
		"room": {&f.room, "the room to export"},
	}
	for _, name := range c.needs {
		fs.StringVar(own[name].p, name, "", own[name].usage)
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "distchat %s: %v\n", c.name, err)
		return 2
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(stdout, "distchat %s: %s.\n\nFlags:\n", c.name, c.summary)
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return 0
		}
		return fail(fmt.Errorf("%w (distchat %s --help lists the flags)", err, c.name))
	}
	if fs.NArg() > 0 {
		return fail(fmt.Errorf("unexpected arguments: %q", fs.Args()))
	}
	var missing []string
	if (f.data == "") == (f.natsURL == "") {
		missing = append(missing, "--data DIR (or --nats-url URL, not both)")
	}
	for _, name := range c.needs {
		if fs.Lookup(name).Value.String() == "" {
			missing = append(missing, "--"+name)
		}
	}
	if len(missing) > 0 {
		return fail(fmt.Errorf("missing %s", strings.Join(missing, " and ")))
	}
	if err := c.run(ctx, &f, stdout); err != nil {
		fmt.Fprintf(stderr, "distchat %s: %v\n", c.name, err)
		return 1
	}
	return 0
}

// connectNATS connects to the NATS server of --nats-url.
func connectNATS(url string) (*nats.Conn, error) {
	nc, err := nats.Connect(url, nats.Name("distchat-admin"))
	if err != nil {
		return nil, fmt.Errorf("connecting to NATS: %w", err)
	}
	return nc, nil
}

func backupCommand(ctx context.Context, f *commandFlags, stdout io.Writer) error {
	// Written next to the target and renamed at the end: an interrupted backup leaves no
	// file that looks complete.
	tmp, err := os.CreateTemp(filepath.Dir(f.out), "."+filepath.Base(f.out)+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	w := bufio.NewWriterSize(tmp, 1<<20)
	var m *archive.Manifest
	from := f.data
	if f.natsURL != "" {
		from = "the NATS server"
		nc, cerr := connectNATS(f.natsURL)
		if cerr != nil {
			return cerr
		}
		defer nc.Close()
		m, err = archive.BackupConn(ctx, nc, w)
	} else {
		m, err = archive.Backup(ctx, f.data, w)
	}
	if err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), f.out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "backed up %s to %s: %s\n", from, f.out, describe(m))
	return nil
}

func restoreCommand(ctx context.Context, f *commandFlags, stdout io.Writer) error {
	in, err := os.Open(f.in)
	if err != nil {
		return err
	}
	defer in.Close()
	var m *archive.Manifest
	to := f.data
	if f.natsURL != "" {
		to = "the NATS server"
		nc, cerr := connectNATS(f.natsURL)
		if cerr != nil {
			return cerr
		}
		defer nc.Close()
		m, err = archive.RestoreConn(ctx, nc, in)
	} else {
		m, err = archive.Restore(ctx, f.data, in)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "restored %s into %s: %s (backup of %s)\n", f.in, to, describe(m), m.Created.Format("2006-01-02 15:04:05 MST"))
	return nil
}

func exportCommand(ctx context.Context, f *commandFlags, stdout io.Writer) error {
	w := bufio.NewWriterSize(stdout, 64<<10)
	var err error
	if f.natsURL != "" {
		var nc *nats.Conn
		if nc, err = connectNATS(f.natsURL); err != nil {
			return err
		}
		defer nc.Close()
		_, err = archive.ExportConn(ctx, nc, f.room, w, jetstream.Options{})
	} else {
		_, err = archive.Export(ctx, f.data, f.room, w)
	}
	if ferr := w.Flush(); err == nil {
		err = ferr
	}
	return err
}

// describe summarises a backup: "2 streams (DISTCHAT, KV_settings), 1234 messages".
func describe(m *archive.Manifest) string {
	names := make([]string, 0, len(m.Streams))
	for _, s := range m.Streams {
		names = append(names, s.Name)
	}
	if len(names) == 0 {
		return "no streams"
	}
	plural := "s"
	if len(names) == 1 {
		plural = ""
	}
	return fmt.Sprintf("%d stream%s (%s), %d messages", len(names), plural, strings.Join(names, ", "), m.Messages())
}
