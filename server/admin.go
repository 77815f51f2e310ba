package server

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/distchat/distchat/server/protocol"
)

// SessionControl ends sessions: one person's everywhere, or everyone's by a new session key.
// Both take effect on every node (the nodes watch the shared state), and the connections of
// the people concerned are closed there.
type SessionControl interface {
	// Revoke ends every session of userID issued until now.
	Revoke(ctx context.Context, userID string) error
	// RotateKey signs sessions with a new key from now on: every token issued before is
	// refused. ErrKeyFixed when the key is --secret's.
	RotateKey(ctx context.Context) error
}

// ErrKeyFixed means the session key is the operator's --secret, which only they can change.
var ErrKeyFixed = errors.New("the session key is --secret: change it on every node and restart them")

// adminOnly lets a request through only with Authorization: Bearer <the admin token>.
func (s *Server) adminOnly(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if s.cfg.AdminToken == "" || s.cfg.Sessions == nil {
			return c.JSON(http.StatusNotFound, apiError(protocol.CodeNotFound, "the admin API is off: start the node with --admin-token"))
		}
		got := strings.TrimSpace(strings.TrimPrefix(c.Request().Header.Get("Authorization"), "Bearer "))
		if subtle.ConstantTimeCompare([]byte(got), []byte(s.cfg.AdminToken)) != 1 {
			return c.JSON(http.StatusUnauthorized, apiError(protocol.CodeUnauthorized, "send the admin token as Authorization: Bearer <token>"))
		}
		return next(c)
	}
}

// adminRevoke (POST /api/admin/revoke {"user": ID}) ends one person's sessions everywhere.
func (s *Server) adminRevoke(c echo.Context) error {
	var body struct {
		User string `json:"user"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(c.Response(), c.Request().Body, 4096)).Decode(&body); err != nil || !protocol.ValidUserID(body.User) {
		return c.JSON(http.StatusBadRequest, apiError(protocol.CodeBadRequest, `send {"user": "<user id>"}`))
	}
	return s.endSessions(c, func(ctx context.Context) error { return s.cfg.Sessions.Revoke(ctx, body.User) },
		"sessions revoked", "user", body.User)
}

// adminRotateKey (POST /api/admin/rotate-key) ends everyone's sessions.
func (s *Server) adminRotateKey(c echo.Context) error {
	return s.endSessions(c, s.cfg.Sessions.RotateKey, "session key rotated")
}

func (s *Server) endSessions(c echo.Context, do func(context.Context) error, what string, args ...any) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 10*time.Second)
	defer cancel()
	err := do(ctx)
	switch {
	case errors.Is(err, ErrKeyFixed):
		return c.JSON(http.StatusConflict, apiError(protocol.CodeForbidden, err.Error()))
	case err != nil:
		s.log.Warn("ending sessions", "err", err)
		return c.JSON(http.StatusServiceUnavailable, apiError(protocol.CodeUnavailable, "storage is unavailable right now; try again"))
	}
	s.log.Info(what, append(args, "remote", c.RealIP())...)
	return c.NoContent(http.StatusNoContent)
}

// DisconnectUser closes the connections of one person on this node that were opened
// before `before`, telling them why.
func (s *Server) DisconnectUser(userID string, before time.Time, reason string) {
	s.hub.Disconnect(func(id string) bool { return id == userID }, before, reason)
}

// DisconnectAll closes every connection on this node opened before `before`, telling them
// why.
func (s *Server) DisconnectAll(before time.Time, reason string) {
	s.hub.Disconnect(nil, before, reason)
}
