package server

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/distchat/distchat/server/auth"
	"github.com/distchat/distchat/server/protocol"
)

// Sessions over HTTP.
//
// A browser keeps its session token in an HttpOnly cookie that the server sets on every
// WebSocket upgrade (a renewed token each time) and on POST /api/session; it presents the
// cookie on every connect and API call, so the token never travels in a URL (where proxies
// log it) and scripts never see it. Command-line clients present it as `?token=` on /ws or
// as `Authorization: Bearer` on any request.

// SessionCookie names the cookie that holds a browser's session token.
const SessionCookie = "distchat_session"

// apiError is the body of an HTTP API error: {"error":{"code","message"}}.
func apiError(code, message string) map[string]any {
	return map[string]any{"error": map[string]string{"code": code, "message": message}}
}

// requestToken returns the token a request presents: `Authorization: Bearer`, else (on
// /ws only) `?token=`, else the session cookie; fromCookie tells the last.
func requestToken(r *http.Request, query bool) (token string, fromCookie bool) {
	if h := r.Header.Get("Authorization"); h != "" {
		return strings.TrimSpace(strings.TrimPrefix(h, "Bearer ")), false
	}
	if query {
		if t := r.URL.Query().Get("token"); t != "" {
			return t, false
		}
	}
	if c, err := r.Cookie(SessionCookie); err == nil && c.Value != "" {
		return c.Value, true
	}
	return "", false
}

// secureRequest reports whether the browser reached this server over TLS: directly, or
// through a trusted proxy that says so, or as the public URL promises.
func (s *Server) secureRequest(r *http.Request) bool {
	if r.TLS != nil || strings.HasPrefix(s.cfg.PublicURL, "https://") {
		return true
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && s.perIP.isTrusted(ip) && strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// sessionCookie carries token until exp; an empty token clears the cookie.
func (s *Server) sessionCookie(r *http.Request, token string, exp time.Time) *http.Cookie {
	c := &http.Cookie{ //nolint:gosec // G124: Secure whenever the browser came over TLS (secureRequest)
		Name: SessionCookie, Value: token, Path: "/",
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: s.secureRequest(r),
	}
	if token == "" {
		c.MaxAge = -1
		return c
	}
	c.Expires = exp
	c.MaxAge = max(1, int(time.Until(exp).Seconds()))
	return c
}

// apiSession is who an API request comes from, when it presents a valid session (guests
// present none).
func (s *Server) apiSession(r *http.Request) (auth.Session, error) {
	token, _ := requestToken(r, false)
	if token == "" {
		return auth.Session{}, auth.ErrUnauthorized
	}
	return s.auth.Authenticate(token, "")
}

// signedInOnly answers 401 to API requests without a valid session when this server lets
// no guests in (--auth-jwt-key without --allow-guests); otherwise everyone may ask.
func (s *Server) signedInOnly(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if s.auth.GuestsAllowed() {
			return next(c)
		}
		if _, err := s.apiSession(c.Request()); err != nil {
			return s.refuseSession(c, err)
		}
		return next(c)
	}
}

func (s *Server) refuseSession(c echo.Context, err error) error {
	if errors.Is(err, auth.ErrNotReady) {
		return c.JSON(http.StatusServiceUnavailable, apiError(protocol.CodeUnavailable, "sign-in is not available yet; try again"))
	}
	msg := "sign in first: send your session token as Authorization: Bearer"
	if !errors.Is(err, auth.ErrUnauthorized) || err.Error() != auth.ErrUnauthorized.Error() {
		msg = err.Error()
	}
	return c.JSON(http.StatusUnauthorized, apiError(protocol.CodeUnauthorized, msg))
}

// createSession (POST /api/session) turns a token presented as Authorization: Bearer (a
// session token, or a JWT of the deployment's sign-in) into the session cookie, and
// answers the person and a renewed token. A page that embeds distchat, or a browser that
// kept its token in storage, signs in this way once.
func (s *Server) createSession(c echo.Context) error {
	r := c.Request()
	if !s.ws.AllowsOrigin(r) {
		return c.JSON(http.StatusForbidden, apiError(protocol.CodeForbidden, "requests from another site's pages are refused"))
	}
	token := strings.TrimSpace(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
	if token == "" {
		return c.JSON(http.StatusBadRequest, apiError(protocol.CodeBadRequest, "send the token as Authorization: Bearer <token>"))
	}
	sess, err := s.auth.Authenticate(token, "")
	if err != nil {
		return s.refuseSession(c, err)
	}
	issued, exp, err := s.auth.IssueFor(sess)
	if err != nil {
		return s.refuseSession(c, err)
	}
	http.SetCookie(c.Response(), s.sessionCookie(r, issued, exp))
	return c.JSON(http.StatusOK, map[string]any{"user": sess.User, "token": issued, "expires": exp.UnixMilli()})
}

// deleteSession (DELETE /api/session) forgets this browser's session: its next connect
// makes a new guest (or asks to sign in). With ?everywhere=true it ends every session of
// the person, on every device and node (their connections are closed).
func (s *Server) deleteSession(c echo.Context) error {
	r := c.Request()
	if !s.ws.AllowsOrigin(r) {
		return c.JSON(http.StatusForbidden, apiError(protocol.CodeForbidden, "requests from another site's pages are refused"))
	}
	if c.QueryParam("everywhere") == "true" {
		sess, err := s.apiSession(r)
		if err != nil {
			return s.refuseSession(c, err)
		}
		if s.cfg.Sessions == nil {
			return c.JSON(http.StatusNotFound, apiError(protocol.CodeNotFound, "this server cannot end sessions elsewhere"))
		}
		ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
		defer cancel()
		if err := s.cfg.Sessions.Revoke(ctx, sess.User.ID); err != nil {
			s.log.Warn("signing out everywhere", "err", err)
			return c.JSON(http.StatusServiceUnavailable, apiError(protocol.CodeUnavailable, "storage is unavailable right now; try again"))
		}
	}
	http.SetCookie(c.Response(), s.sessionCookie(r, "", time.Time{}))
	return c.NoContent(http.StatusNoContent)
}
