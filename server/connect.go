package server

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"

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
func (s *Server) serveWS(c echo.Context) error {
	q := c.QueryParams()
	rawName, room, token := q.Get("name"), q.Get("room"), q.Get("token")
	if token == "" {
		// Command-line clients may send it as a header instead.
		token = c.Request().Header.Get("Authorization")
	}
	ip := s.perIP.clientIP(c.Request())
	s.ws.Serve(c.Response(), c.Request(), func(conn *ws.Conn) (ws.Session, []byte, int) {
		if !s.perIP.acquire(ip) {
			return nil, protocol.EncodeError(&protocol.Error{Code: protocol.CodeLimitExceeded, Message: fmt.Sprintf(
				"at most %d connections from one address (--max-conns-per-ip)", s.cfg.MaxConnsPerIP)}, ""), closePolicyViolation
		}
		sess, refusal, code := s.accept(conn, c, rawName, room, token)
		if sess == nil {
			s.perIP.release(ip)
			return nil, refusal, code
		}
		return session{Session: sess, release: func() { s.perIP.release(ip) }}, nil, 0
	})
	return nil
}

// accept decides who a new connection is and hands it to the hub, or refuses it with an
// error object and a close code.
func (s *Server) accept(conn *ws.Conn, c echo.Context, rawName, room, token string) (*hub.Session, []byte, int) {
	{
		var name string
		if rawName != "" {
			var perr *protocol.Error
			if name, perr = protocol.CheckName(rawName); perr != nil {
				return nil, protocol.EncodeError(perr, ""), closePolicyViolation
			}
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
		user, guest, err := s.auth.Identify(token, name)
		if errors.Is(err, auth.ErrNotReady) {
			return tryAgain(err)
		}
		if err != nil {
			return nil, protocol.EncodeError(&protocol.Error{Code: protocol.CodeUnauthorized, Message: err.Error()}, ""), closePolicyViolation
		}
		// A new token on every connect: who keeps coming back stays signed in.
		issued, err := s.auth.Issue(user)
		if err != nil {
			return tryAgain(err)
		}
		id := hub.Identity{User: user, Conn: newID(), Token: issued, New: guest}
		if !guest {
			ctx, cancel := context.WithTimeout(c.Request().Context(), s.cfg.ReadTimeout)
			id.DMs, err = s.hub.DMs(ctx, user.ID)
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
		if errors.Is(err, hub.ErrTooManyRooms) {
			return nil, protocol.EncodeError(&protocol.Error{Code: protocol.CodeLimitExceeded, Message: fmt.Sprintf(
				"this node serves its most rooms (--max-rooms); try %s", protocol.DefaultRoom)}, ""), protocol.CloseTryAgain
		}
		if err != nil {
			return nil, nil, 1001
		}
		return sess, nil, 0
	}
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
