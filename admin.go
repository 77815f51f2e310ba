package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// distchat admin: the admin API of a running node (or cluster: any node) over HTTP, with
// the --admin-token it was started with.
//
//	distchat admin --url http://node:8080 --token T revoke USER_ID
//	distchat admin --url http://node:8080 --token T rotate-key
const adminUsage = `distchat admin: tell a running node (or cluster: any of its nodes) what to do,
through its admin API, with the --admin-token it was started with.

Usage:
  distchat admin --url URL --token TOKEN revoke USER_ID   end every session of a person, everywhere
  distchat admin --url URL --token TOKEN rotate-key       a new session key: every session ends

Flags:
  --url URL      the node's address, e.g. https://chat.example.com
  --token TOKEN  the node's --admin-token (or DISTCHAT_ADMIN_TOKEN)
`

// adminActions are the actions of distchat admin: their arguments, method and path, body.
var adminActions = map[string]struct {
	args int
	path string
	body func(args []string) any
}{
	"revoke":     {1, "/api/admin/revoke", func(a []string) any { return map[string]string{"user": a[0]} }},
	"rotate-key": {0, "/api/admin/rotate-key", nil},
}

// runAdmin runs distchat admin and returns the exit status: 0 done, 2 wrong use, 1 refused
// or failed.
func runAdmin(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("distchat admin", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	url := fs.String("url", "", "")
	token := fs.String("token", getenv(envName("admin-token")), "")
	usage := func(err error) int {
		fmt.Fprintf(stderr, "distchat admin: %v\n\n%s", err, adminUsage)
		return 2
	}
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, adminUsage)
		return 0
	} else if err != nil {
		return usage(err)
	}
	rest := fs.Args()
	if len(rest) == 0 {
		return usage(errors.New("which action?"))
	}
	action, ok := adminActions[rest[0]]
	switch {
	case !ok:
		return usage(fmt.Errorf("unknown action %q", rest[0]))
	case len(rest)-1 != action.args:
		return usage(fmt.Errorf("%s takes %d argument(s)", rest[0], action.args))
	case *url == "" || *token == "":
		return usage(errors.New("--url and --token are needed"))
	}
	var body io.Reader = http.NoBody
	if action.body != nil {
		b, _ := json.Marshal(action.body(rest[1:]))
		body = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(*url, "/")+action.path, body)
	if err != nil {
		return usage(err)
	}
	req.Header.Set("Authorization", "Bearer "+*token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "distchat admin %s: %v\n", rest[0], err)
		return 1
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		fmt.Fprintf(stdout, "%s: done\n", rest[0])
		return 0
	}
	var e struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if json.Unmarshal(data, &e) != nil || e.Error.Message == "" {
		e.Error.Message = strings.TrimSpace(string(data))
	}
	fmt.Fprintf(stderr, "distchat admin %s: %s (%s)\n", rest[0], e.Error.Message, resp.Status)
	return 1
}
