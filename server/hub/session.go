package hub

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/time/rate"

	"github.com/distchat/distchat/server/protocol"
)

// Session is one connection's state in the hub: who it is, which rooms it is in, its rate
// limit. Its request handlers run on the connection's reader goroutine only, one request
// at a time, so its fields need no lock. Storage results come back on broker goroutines
// and only send to the connection.
type Session struct {
	hub     *Hub
	conn    Conn
	user    protocol.User
	rooms   map[string]*room
	current string
	limiter *rate.Limiter // nil: unlimited
	closed  bool
	// inflight holds a token per message waiting for storage, reads one per history read.
	inflight chan struct{}
	reads    chan struct{}
}

// Connect creates a session for user on conn and joins room; the room sends the welcome
// as soon as it can (at once when it is loaded already).
func (h *Hub) Connect(conn Conn, user protocol.User, roomName string) (*Session, error) {
	s := &Session{
		hub: h, conn: conn, user: user, rooms: make(map[string]*room),
		inflight: make(chan struct{}, h.cfg.MaxInflight),
		reads:    make(chan struct{}, h.cfg.MaxReads),
	}
	if h.cfg.RateLimit > 0 {
		s.limiter = rate.NewLimiter(rate.Limit(h.cfg.RateLimit), h.cfg.RateBurst)
	}
	r, err := h.acquire(roomName)
	if err != nil {
		return nil, err
	}
	s.rooms[roomName] = r
	s.current = roomName
	r.post(op{kind: opJoin, s: s, welcome: &protocol.Welcome{
		Type: protocol.TypeWelcome, ID: user.ID, Name: user.Name,
		Room: roomName, Rooms: []string{roomName},
		Limits: h.cfg.Limits, Version: h.cfg.Version,
	}})
	return s, nil
}

// HandleFrame decodes one text frame from the client and handles every request in it.
func (s *Session) HandleFrame(frame []byte) {
	protocol.DecodeFrame(frame, func(req protocol.Request, perr *protocol.Error) {
		if perr != nil {
			s.fail(perr, req.Ref)
			return
		}
		s.handle(req)
	})
}

// HandleBinary answers a binary frame, which the protocol does not use.
func (s *Session) HandleBinary() {
	s.fail(&protocol.Error{Code: protocol.CodeUnsupported, Message: "binary frames are not supported; send JSON or plain text"}, "")
}

func (s *Session) handle(req protocol.Request) {
	s.hub.cfg.Metrics.Request(req.Type)
	// The limiter counts requests as they arrive: publishing never holds the reader up
	// long enough for requests to pile up and then count all at once.
	if req.Type != protocol.TypeTyping && s.limiter != nil && !s.limiter.Allow() {
		s.fail(&protocol.Error{Code: protocol.CodeRateLimited, Message: fmt.Sprintf(
			"rate limit is %g requests/s with bursts of %d; %s dropped, send it again later",
			s.hub.cfg.RateLimit, s.hub.cfg.RateBurst, req.Type)}, req.Ref)
		return
	}
	switch req.Type {
	case protocol.TypeMessage:
		s.publish(req)
	case protocol.TypeJoin:
		s.join(req)
	case protocol.TypeLeave:
		s.leave(req)
	case protocol.TypeHistory:
		s.history(req)
	case protocol.TypePresence:
		if r := s.member(req); r != nil {
			r.post(op{kind: opPresence, s: s})
		}
	case protocol.TypeTyping:
		if r := s.member(req); r != nil {
			r.post(op{kind: opTyping, s: s})
		}
	}
}

// member returns the joined room a request names (or the current room), or answers
// not_member.
func (s *Session) member(req protocol.Request) *room {
	name := req.Room
	if name == "" {
		name = s.current
	}
	if r := s.rooms[name]; r != nil {
		return r
	}
	s.fail(&protocol.Error{Code: protocol.CodeNotMember, Message: fmt.Sprintf("join room %q first", name)}, req.Ref)
	return nil
}

// publish hands the message to the broker and returns: publishes are pipelined, and the
// ack (or error) is sent when storage answers. At most MaxInflight messages of a session
// wait for storage; a client that sends more waits until one is answered.
func (s *Session) publish(req protocol.Request) {
	r := s.member(req)
	if r == nil {
		return
	}
	if perr := protocol.ValidateBody(req.Body, s.hub.cfg.MaxBodyBytes); perr != nil {
		s.fail(perr, req.Ref)
		return
	}
	var dedupe string
	if req.Ref != "" {
		// Refs are chosen by clients; scope them to the sender's name so that two
		// clients counting refs from 1 do not collide, while a client that reconnects
		// (a new connection id) and retries is still recognised.
		dedupe = s.user.Name + "\x00" + req.Ref
	}
	s.inflight <- struct{}{}
	ref, room := req.Ref, r.name
	start := time.Now()
	s.hub.broker.Publish(protocol.Message{Room: room, From: s.user, Body: req.Body, Ref: ref}, dedupe,
		func(stored protocol.Message, dup bool, err error) {
			s.hub.cfg.Metrics.Published(time.Since(start), dup, err)
			<-s.inflight
			if err != nil {
				s.hub.storageFailed("storing a message", room, err)
				s.fail(&protocol.Error{Code: protocol.CodeUnavailable, Message: "the message could not be stored; send it again"}, ref)
				return
			}
			s.conn.Send(protocol.Encode(protocol.Ack{
				Type: protocol.TypeAck, Ref: ref, Room: stored.Room, Seq: stored.Seq, ID: stored.ID, TS: stored.TS,
			}))
		})
}

func (s *Session) join(req protocol.Request) {
	r := s.rooms[req.Room]
	if r == nil {
		var err error
		if r, err = s.hub.acquire(req.Room); err != nil {
			s.fail(&protocol.Error{Code: protocol.CodeUnavailable, Message: "the server is shutting down"}, req.Ref)
			return
		}
		s.rooms[req.Room] = r
	}
	s.current = req.Room
	r.post(op{kind: opJoin, s: s, since: req.Since, ref: req.Ref})
}

func (s *Session) leave(req protocol.Request) {
	if r := s.rooms[req.Room]; r != nil {
		r.post(op{kind: opLeave, s: s})
		delete(s.rooms, req.Room)
		s.hub.release(r)
		if s.current == req.Room {
			s.current = ""
			for name := range s.rooms {
				s.current = name
				break
			}
		}
	}
	s.conn.Send(protocol.Encode(protocol.Left{Type: protocol.TypeLeft, Room: req.Room, Ref: req.Ref}))
}

// history reads a page in the background (at most MaxReads at once per session) and sends
// it when it is there.
func (s *Session) history(req protocol.Request) {
	r := s.member(req)
	if r == nil {
		return
	}
	s.reads <- struct{}{}
	h := s.hub
	go func() {
		defer func() { <-s.reads }()
		ctx, cancel := context.WithTimeout(h.ctx, h.cfg.ReadTimeout)
		defer cancel()
		start := time.Now()
		msgs, more, err := h.broker.Before(ctx, r.name, req.Before, req.Limit)
		h.cfg.Metrics.Read(ReadHistory, time.Since(start), err)
		if err != nil {
			h.storageFailed("reading history", r.name, err)
			s.fail(&protocol.Error{Code: protocol.CodeUnavailable, Message: "history is unavailable right now; try again"}, req.Ref)
			return
		}
		s.conn.Send(protocol.Encode(protocol.History{
			Type: protocol.TypeHistory, Room: r.name, Messages: protocol.OutMessages(msgs), HasMore: more, Ref: req.Ref,
		}))
	}()
}

func (s *Session) fail(perr *protocol.Error, ref string) {
	s.hub.cfg.Metrics.ReplyError(perr.Code)
	s.conn.Send(protocol.EncodeError(perr, ref))
}

// Close leaves every room, telling the other members. It runs once, when the connection
// has ended.
func (s *Session) Close() {
	if s.closed {
		return
	}
	s.closed = true
	for name, r := range s.rooms {
		r.post(op{kind: opLeave, s: s})
		s.hub.release(r)
		delete(s.rooms, name)
	}
}
