package server

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/distchat/distchat/server/auth"
	"github.com/distchat/distchat/server/hub"
	"github.com/distchat/distchat/server/protocol"
	"github.com/distchat/distchat/server/ws"
)

// Close code for an invalid name or room in the URL.
const closePolicyViolation = 1008

// serveWS is where a browser's socket enters: the upgrade and connection loops live in
// server/ws, who the person is in server/auth, what the frames mean in server/hub.
//
// Who the person is is decided before the upgrade, so that the upgrade's response can
// carry the renewed session token as the session cookie (a browser keeps it there); a
// refusal is still sent as an error object on the opened connection, so that the client
// sees its code.
func (s *Server) serveWS(c echo.Context) error {
	r := c.Request()
	q := r.URL.Query()
	rawName, room := q.Get("name"), q.Get("room")
	token, fromCookie := requestToken(r, true)
	ip := s.perIP.clientIP(r)
	id := s.identify(token, rawName)
	header := http.Header{}
	switch {
	case id.issued != "":
		header.Add("Set-Cookie", s.sessionCookie(r, id.issued, id.expires).String())
	case fromCookie && errors.Is(id.err, auth.ErrUnauthorized):
		// A cookie this server no longer accepts is forgotten: the next connect is a guest.
		header.Add("Set-Cookie", s.sessionCookie(r, "", time.Time{}).String())
	}
	s.ws.ServeWithHeader(c.Response(), r, header, func(conn *ws.Conn) (ws.Session, []byte, int) {
		if !s.perIP.acquire(ip) {
			return nil, protocol.EncodeError(&protocol.Error{Code: protocol.CodeLimitExceeded, Message: fmt.Sprintf(
				"at most %d connections from one address (--max-conns-per-ip)", s.cfg.MaxConnsPerIP)}, ""), closePolicyViolation
		}
		sess, refusal, code := s.accept(conn, r, ip, rawName, room, id)
		if sess == nil {
			s.perIP.release(ip)
			return nil, refusal, code
		}
		return session{Session: sess, release: func() { s.perIP.release(ip) }}, nil, 0
	})
	return nil
}

// identified is who a connection is, decided before its upgrade.
type identified struct {
	sess    auth.Session
	name    string          // the display name asked for in the URL, normalised ("" when none)
	badName *protocol.Error // why the name asked for is not acceptable
	issued  string          // the renewed session token
	expires time.Time
	err     error
}

func (s *Server) identify(token, rawName string) identified {
	var id identified
	if rawName != "" {
		if id.name, id.badName = protocol.CheckName(rawName); id.badName != nil {
			return id
		}
	}
	if id.sess, id.err = s.auth.Authenticate(token, id.name); id.err != nil {
		return id
	}
	// A new token on every connect: who keeps coming back stays signed in.
	id.issued, id.expires, id.err = s.auth.IssueFor(id.sess)
	return id
}

// accept hands a new connection to the hub, or refuses it with an error object and a
// close code.
func (s *Server) accept(conn *ws.Conn, r *http.Request, ip, rawName, room string, who identified) (*hub.Session, []byte, int) {
	if who.badName != nil {
		return nil, protocol.EncodeError(who.badName, ""), closePolicyViolation
	}
	if room == "" {
		room = protocol.DefaultRoom
	}
	if !protocol.ValidRoom(room) {
		return nil, protocol.EncodeError(&protocol.Error{Code: protocol.CodeInvalidRoom,
			Message: "room names are 1-64 characters a-z, 0-9, - and _"}, ""), closePolicyViolation
	}
	tryAgain := func(err error) (*hub.Session, []byte, int) {
		// The client tries again later, or another node.
		return nil, protocol.EncodeError(&protocol.Error{Code: protocol.CodeUnavailable,
			Message: "this node cannot take connections right now (" + err.Error() + "); try again"}, ""), protocol.CloseTryAgain
	}
	if err := s.storageStarting(); err != nil {
		return tryAgain(err)
	}
	if errors.Is(who.err, auth.ErrNotReady) {
		return tryAgain(who.err)
	}
	if who.err != nil {
		return nil, protocol.EncodeError(&protocol.Error{Code: protocol.CodeUnauthorized, Message: who.err.Error()}, ""), closePolicyViolation
	}
	user, guest := who.sess.User, who.sess.Guest
	id := hub.Identity{User: user, Conn: newID(), Token: who.issued, New: guest, Addr: ip}
	var err error
	if !guest {
		ctx, cancel := context.WithTimeout(r.Context(), s.cfg.ReadTimeout)
		id.DMs, err = s.people.DMs(ctx, user.ID)
		if err == nil && protocol.IsDM(room) {
			var ok bool
			if ok, err = s.hub.MayJoin(ctx, room, user.ID); err == nil && !ok {
				// Someone else's: the connection opens in the default room and says why.
				id.Notice = protocol.EncodeError(&protocol.Error{Code: protocol.CodeForbidden,
					Message: fmt.Sprintf("the direct-message room %s is not yours", room)}, "")
				room = protocol.DefaultRoom
			}
		}
		cancel()
		if err != nil {
			s.log.Warn("reading a person's direct-message rooms", "err", err)
			return tryAgain(errors.New("storage unavailable"))
		}
	} else if protocol.IsDM(room) {
		id.Notice = protocol.EncodeError(&protocol.Error{Code: protocol.CodeForbidden,
			Message: fmt.Sprintf("the direct-message room %s is not yours", room)}, "")
		room = protocol.DefaultRoom
	}
	sess, err := s.hub.Connect(conn, id, room)
	if perr := (*protocol.Error)(nil); errors.As(err, &perr) {
		return nil, protocol.EncodeError(perr, ""), closePolicyViolation
	}
	if errors.Is(err, hub.ErrTooManyRooms) {
		return nil, protocol.EncodeError(&protocol.Error{Code: protocol.CodeLimitExceeded, Message: fmt.Sprintf(
			"this node serves its most rooms (--max-rooms); try %s", protocol.DefaultRoom)}, ""), protocol.CloseTryAgain
	}
	if err != nil {
		return nil, nil, 1001
	}
	return sess, nil, 0
}

// session adapts a hub session to the connection's callbacks.
type session struct {
	*hub.Session
	release func() // the connection's count for its address
}

func (s session) OnFrame(data []byte, text bool) {
	if !text {
		s.HandleBinary()
		return
	}
	s.HandleFrame(data)
}

func (s session) OnClose() {
	s.Close()
	s.release()
}

// newID returns a random connection id of 10 characters.
func newID() string {
	const alphabet = "abcdefghijkmnpqrstuvwxyz23456789"
	var b [10]byte
	_, _ = rand.Read(b[:])
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b[:])
}

// storageStarting returns why storage is not ready, until it has been ready once. New
// connections are refused meanwhile (close 1013); afterwards storage trouble is answered
// request by request, and readiness is for load balancers (/api/ready).
func (s *Server) storageStarting() error {
	if s.storageStarted.Load() {
		return nil
	}
	if err := s.broker.Ready(); err != nil {
		return err
	}
	s.storageStarted.Store(true)
	return nil
}
