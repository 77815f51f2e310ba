package server

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"

	"github.com/labstack/echo/v4"

	"github.com/distchat/distchat/server/hub"
	"github.com/distchat/distchat/server/protocol"
	"github.com/distchat/distchat/server/ws"
)

// Close code for an invalid name or room in the URL.
const closePolicyViolation = 1008

// serveWS is where a browser's socket enters: the upgrade and connection loops live in
// server/ws, what the frames mean in server/hub.
func (s *Server) serveWS(c echo.Context) error {
	q := c.QueryParams()
	rawName, room := q.Get("name"), q.Get("room")
	s.ws.Serve(c.Response(), c.Request(), func(conn *ws.Conn) (ws.Session, []byte, int) {
		name, ok := guestName(), true
		if rawName != "" {
			name, ok = protocol.NormalizeName(rawName)
		}
		if !ok {
			return nil, protocol.EncodeError(&protocol.Error{Code: protocol.CodeInvalidName,
				Message: fmt.Sprintf("names are 1-%d printable characters", protocol.MaxNameLen)}, ""), closePolicyViolation
		}
		if room == "" {
			room = protocol.DefaultRoom
		}
		if !protocol.ValidRoom(room) {
			return nil, protocol.EncodeError(&protocol.Error{Code: protocol.CodeInvalidRoom,
				Message: "room names are 1-64 characters a-z, 0-9, - and _"}, ""), closePolicyViolation
		}
		if err := s.storageStarting(); err != nil {
			// The client tries again later, or another node.
			return nil, protocol.EncodeError(&protocol.Error{Code: protocol.CodeUnavailable,
				Message: "this node cannot store messages right now (" + err.Error() + "); try again"}, ""), protocol.CloseTryAgain
		}
		sess, err := s.hub.Connect(conn, protocol.User{ID: newID(), Name: name}, room)
		if err != nil {
			return nil, nil, 1001
		}
		return session{sess}, nil, 0
	})
	return nil
}

// session adapts a hub session to the connection's callbacks.
type session struct{ *hub.Session }

func (s session) OnFrame(data []byte, text bool) {
	if !text {
		s.HandleBinary()
		return
	}
	s.HandleFrame(data)
}

func (s session) OnClose() { s.Close() }

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

func guestName() string {
	var b [2]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("guest-%04d", binary.BigEndian.Uint16(b[:])%10000)
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
