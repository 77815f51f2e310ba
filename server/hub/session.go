package hub

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/distchat/distchat/server/broker"
	"github.com/distchat/distchat/server/presence"
	"github.com/distchat/distchat/server/protocol"
)

// Session is one connection's state in the hub: whose it is, which rooms it is in, its rate
// limit. Its request handlers run on the connection's reader goroutine, one request at a
// time; none of them waits for storage there. A publish's outcome comes back on the
// broker's callback; history pages, recoveries and read positions are read in goroutines of
// their own (background, readTurn), and so is every other request's storage work (async):
// the message an edit, reaction or deletion is about when it is not among the room's
// recent ones, the record of a direct-message room to join, opening and hiding one. Those
// finish the request from there (enter, changeTarget), which is why the rooms are guarded
// by mu. The reader does wait while MaxInflight of the session's messages wait for
// storage, or MaxReads of its storage requests run: that is how a client that sends
// faster than storage answers is held back.
type Session struct {
	hub   *Hub
	conn  Conn
	id    string     // the connection's id
	addr  string     // the client's address
	since time.Time  // when it connected
	lu    *localUser // the person
	// mu guards rooms, current and closed: the reader goroutine changes them, and so do
	// requests finished off it (a join that waited for storage).
	mu             sync.Mutex
	rooms          map[string]*room
	current        string
	limiter        *rate.Limiter // nil: unlimited
	historyLimiter *rate.Limiter // history requests, apart (nil: unlimited)
	errLimiter     *rate.Limiter // replies to refused requests
	closed         bool
	// roomsHeld mirrors the keys of rooms for other goroutines (read positions).
	roomsHeld sync.Map
	// inflight holds a token per message waiting for storage, reads one per storage read
	// running for this session.
	inflight chan struct{}
	reads    chan struct{}
}

// Identity is who a connection is, as the server established it.
type Identity struct {
	User protocol.User
	// Conn is the connection's id; Token the session token the client keeps.
	Conn  string
	Token string
	// DMs are the person's direct-message rooms.
	DMs []protocol.DMRoom
	// New is a person made for this connection (a guest without a token): they have no
	// read positions or direct-message rooms yet, so none are looked up.
	New bool
	// Notice is sent right after the welcome (why the connection is not in the room it
	// asked for).
	Notice []byte
	// Addr is the client's address (for the limits per address).
	Addr string
}

// Connect creates a session for id on conn and joins room; the room sends the welcome as
// soon as it can (at once when it is loaded already).
func (h *Hub) Connect(conn Conn, id Identity, roomName string) (*Session, error) {
	s := &Session{
		hub: h, conn: conn, id: id.Conn, addr: id.Addr, since: time.Now(), rooms: make(map[string]*room),
		inflight: make(chan struct{}, h.cfg.MaxInflight),
		reads:    make(chan struct{}, h.cfg.MaxReads),
	}
	if h.cfg.RateLimit > 0 {
		s.limiter = rate.NewLimiter(rate.Limit(h.cfg.RateLimit), h.cfg.RateBurst)
	}
	s.errLimiter = rate.NewLimiter(rate.Limit(max(2*h.cfg.RateLimit, minErrorRate)), max(2*h.cfg.RateBurst, minErrorBurst))
	if h.cfg.HistoryRate > 0 {
		s.historyLimiter = rate.NewLimiter(rate.Limit(h.cfg.HistoryRate), h.cfg.HistoryBurst)
	}
	s.lu = h.attach(s, id.User, id.New)
	if perr := h.hold(s, roomName); perr != nil {
		h.detach(s)
		return nil, perr
	}
	r, err := h.acquire(roomName)
	if err != nil {
		h.unhold(s, roomName)
		h.detach(s)
		return nil, err
	}
	me := s.me()
	s.rooms[roomName] = r
	s.roomsHeld.Store(roomName, true)
	s.current = roomName
	dms := id.DMs
	if dms == nil {
		dms = []protocol.DMRoom{}
	}
	r.post(op{kind: opJoin, s: s, welcome: &protocol.Welcome{
		Type: protocol.TypeWelcome, ID: me.ID, Name: me.Name, User: me, Token: id.Token, Conn: id.Conn,
		Room: roomName, Rooms: []string{roomName}, DMs: dms,
		Limits: h.cfg.Limits, Version: h.cfg.Version,
	}, notice: id.Notice})
	return s, nil
}

// me is the session's person, with their current name.
func (s *Session) me() protocol.User { return s.lu.user() }

// Replies to refused requests: at least this many a second, in bursts of at least this
// many (twice the rate limit and its burst when those are larger).
const (
	minErrorRate  = 20
	minErrorBurst = 64
)

// HandleFrame decodes one text frame from the client and handles every request in it.
func (s *Session) HandleFrame(frame []byte) {
	protocol.DecodeFrame(frame, func(req protocol.Request, perr *protocol.Error) {
		if perr != nil {
			// A request that cannot be decoded counts against the rate limit like any
			// other; beyond it, it is dropped without an answer.
			s.hub.cfg.Metrics.Request("invalid")
			if s.limiter != nil && !s.limiter.Allow() {
				s.hub.cfg.Metrics.ReplyDropped(perr.Code)
				return
			}
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
	// The limiters count requests as they arrive: publishing never holds the reader up
	// long enough for requests to pile up and then count all at once. History requests
	// (storage reads) have a limiter of their own.
	if req.Type == protocol.TypeHistory {
		if s.historyLimiter != nil && !s.historyLimiter.Allow() {
			s.fail(s.historyRateError("history pages"), req.Ref)
			return
		}
	} else if req.Type != protocol.TypeTyping && s.limiter != nil && !s.limiter.Allow() {
		s.fail(&protocol.Error{Code: protocol.CodeRateLimited, Message: fmt.Sprintf(
			"rate limit is %g requests/s with bursts of %d; %s dropped, send it again later",
			s.hub.cfg.RateLimit, s.hub.cfg.RateBurst, req.Type)}, req.Ref)
		return
	}
	switch req.Type {
	case protocol.TypeMessage:
		s.message(req)
	case protocol.TypeEdit, protocol.TypeDelete, protocol.TypeReact:
		s.change(req)
	case protocol.TypeTopic:
		s.topic(req)
	case protocol.TypeJoin:
		s.join(req.Room, req.Since, req.Epoch, req.Ref)
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
	case protocol.TypeRename:
		s.rename(req)
	case protocol.TypeDM:
		s.dm(req)
	case protocol.TypeRead:
		s.read(req)
	}
}

// member returns the joined room a request names (or the current room), or answers
// not_member.
func (s *Session) member(req protocol.Request) *room {
	s.mu.Lock()
	name := req.Room
	if name == "" {
		name = s.current
	}
	r := s.rooms[name]
	s.mu.Unlock()
	if r != nil {
		return r
	}
	if protocol.IsDM(name) {
		// Someone else's conversation is not theirs to read, joined or not; one of the two
		// (as far as this node knows) is told to join first.
		if ids, ok := s.hub.dms.load(name); !ok || ids[0] != s.lu.id && ids[1] != s.lu.id {
			s.fail(&protocol.Error{Code: protocol.CodeForbidden, Message: "this direct-message room is not yours"}, req.Ref)
			return nil
		}
	}
	s.fail(&protocol.Error{Code: protocol.CodeNotMember, Message: fmt.Sprintf("join room %q first", name)}, req.Ref)
	return nil
}

func (s *Session) message(req protocol.Request) {
	r := s.member(req)
	if r == nil {
		return
	}
	if perr := protocol.ValidateBody(req.Body, s.hub.cfg.MaxBodyBytes); perr != nil {
		s.fail(perr, req.Ref)
		return
	}
	s.publish(protocol.Message{Room: r.name, From: s.me(), Body: req.Body, Ref: req.Ref})
}

// publish hands an entry to the broker and returns: publishes are pipelined, and the ack
// (or error) is sent when storage answers. At most MaxInflight entries of a session wait
// for storage; a client that sends more waits until one is answered.
func (s *Session) publish(m protocol.Message) { s.publishThen(m, nil) }

// publishThen is publish, with then run once m is stored (in a goroutine of its own), before
// the client hears the ack.
func (s *Session) publishThen(m protocol.Message, then func(stored protocol.Message)) {
	var dedupe string
	if m.Ref != "" {
		// Refs are chosen by clients: scoped to the person, so that two people counting
		// refs from 1 do not collide, while the same person retrying from another device
		// or node is recognised.
		dedupe = m.From.ID + "\x00" + m.Ref
	}
	s.inflight <- struct{}{}
	ref, room := m.Ref, m.Room
	start := time.Now()
	s.hub.broker.Publish(m, dedupe, func(stored protocol.Message, dup bool, err error) {
		s.hub.cfg.Metrics.Published(time.Since(start), dup, err)
		<-s.inflight
		if err != nil {
			s.hub.storageFailed("storing a message", room, err)
			s.tell(&protocol.Error{Code: protocol.CodeUnavailable, Message: "the message could not be stored; send it again"}, ref)
			return
		}
		ack := protocol.Encode(protocol.Ack{
			Type: protocol.TypeAck, Ref: ref, Room: stored.Room, Seq: stored.Seq, ID: stored.ID, TS: stored.TS,
		})
		if then == nil {
			s.conn.Send(ack)
			return
		}
		go func() {
			then(stored)
			s.conn.Send(ack)
		}()
	})
}

// change stores an edit, a deletion or a reaction about a message of the room. Only the
// author may edit or delete; anyone in the room may react.
func (s *Session) change(req protocol.Request) {
	r := s.member(req)
	if r == nil {
		return
	}
	me := s.me()
	m := protocol.Message{Room: r.name, From: me, Ref: req.Ref, Target: req.ID}
	switch req.Type {
	case protocol.TypeEdit:
		if perr := protocol.ValidateBody(req.Body, s.hub.cfg.MaxBodyBytes); perr != nil {
			s.fail(perr, req.Ref)
			return
		}
		m.Kind, m.Body = protocol.KindEdit, req.Body
	case protocol.TypeDelete:
		m.Kind = protocol.KindDelete
	case protocol.TypeReact:
		m.Kind, m.Emoji, m.On = protocol.KindReaction, req.Emoji, *req.On
	}
	// The message is in the room's cache when it is recent; else it is read from storage,
	// off the reader goroutine, and the request goes on from there.
	if target, ok := r.cachedMessage(req.ID); ok {
		s.changeTarget(r, m, target, nil)
		return
	}
	s.async(func(ctx context.Context) {
		target, err := s.target(ctx, r.name, req.ID)
		s.changeTarget(r, m, target, err)
	})
}

// changeTarget goes on with a change once the message it is about is known (or its read
// failed).
func (s *Session) changeTarget(r *room, m protocol.Message, target protocol.Message, err error) {
	me, id := m.From, m.Target
	req := struct{ ID, Ref string }{id, m.Ref}
	switch {
	case errors.Is(err, broker.ErrNotFound):
		s.fail(&protocol.Error{Code: protocol.CodeNotFound, Message: fmt.Sprintf("no message %q in room %q", req.ID, r.name)}, req.Ref)
		return
	case err != nil:
		s.hub.storageFailed("reading a message", r.name, err)
		s.fail(&protocol.Error{Code: protocol.CodeUnavailable, Message: "the message cannot be read right now; try again"}, req.Ref)
		return
	case target.Kind != protocol.KindMessage:
		s.fail(&protocol.Error{Code: protocol.CodeNotFound, Message: fmt.Sprintf("no message %q in room %q", req.ID, r.name)}, req.Ref)
		return
	case m.Kind != protocol.KindReaction && target.From.ID != me.ID:
		s.fail(&protocol.Error{Code: protocol.CodeForbidden, Message: "only its author may edit or delete a message"}, req.Ref)
		return
	}
	if m.Kind != protocol.KindDelete {
		s.publish(m)
		return
	}
	// A deleted message is erased from storage once its deletion is stored, with the
	// edits this node knows of (those in the room's cache): its words are never sent or
	// found again, and later edits, reactions or deletions of it find nothing.
	seqs := append(r.editsOf(req.ID), target.Seq)
	h, room := s.hub, r.name
	s.publishThen(m, func(protocol.Message) {
		ctx, cancel := context.WithTimeout(h.ctx, h.cfg.ReadTimeout)
		defer cancel()
		for _, seq := range seqs {
			if err := h.broker.Erase(ctx, room, seq); err != nil && !errors.Is(err, broker.ErrNotFound) {
				h.storageFailed("erasing a deleted message", room, err)
			}
		}
	})
}

// target reads the message an event is about: a chat message of the room.
func (s *Session) target(ctx context.Context, room, id string) (protocol.Message, error) {
	seq, ok := protocol.SeqOfID(id)
	if !ok {
		return protocol.Message{}, broker.ErrNotFound
	}
	m, err := s.hub.broker.Get(ctx, room, seq)
	if err == nil && m.Kind != protocol.KindMessage {
		return m, broker.ErrNotFound
	}
	return m, err
}

// topic sets the room's topic: an event in the room's order (the stream is where it is
// kept), and once that is stored, the room's latest topic in the shared state, an index of
// the stream's latest topic event for those who join later.
func (s *Session) topic(req protocol.Request) {
	r := s.member(req)
	if r == nil {
		return
	}
	h, room, body := s.hub, r.name, req.Body
	s.publishThen(protocol.Message{Room: room, From: s.me(), Kind: protocol.KindTopic, Body: body, Ref: req.Ref}, func(protocol.Message) {
		ctx, cancel := context.WithTimeout(h.ctx, h.cfg.ReadTimeout)
		defer cancel()
		if err := h.people.SetTopic(ctx, room, body); err != nil {
			// The members have it (the event); those who join before another topic is
			// set see the one before.
			h.storageFailed("indexing a topic", room, err)
		}
	})
}

func (s *Session) join(name string, since *uint64, epoch, ref string) {
	s.mu.Lock()
	_, in := s.rooms[name]
	s.mu.Unlock()
	if in || !protocol.IsDM(name) {
		s.enter(name, since, epoch, ref)
		return
	}
	// Whose a direct-message room is may need storage: asked off the reader goroutine.
	if ids, ok := s.hub.dms.load(name); ok {
		s.enterDM(name, ids[0] == s.lu.id || ids[1] == s.lu.id, nil, since, epoch, ref)
		return
	}
	s.async(func(ctx context.Context) {
		ok, err := s.hub.MayJoin(ctx, name, s.lu.id)
		s.enterDM(name, ok, err, since, epoch, ref)
	})
}

// enterDM goes on with a join of a direct-message room once whose it is is known.
func (s *Session) enterDM(name string, mine bool, err error, since *uint64, epoch, ref string) {
	switch {
	case err != nil:
		s.tell(&protocol.Error{Code: protocol.CodeUnavailable, Message: "the room cannot be checked right now; try again"}, ref)
	case !mine:
		s.fail(&protocol.Error{Code: protocol.CodeForbidden, Message: "this direct-message room is not yours"}, ref)
	default:
		s.enter(name, since, epoch, ref)
	}
}

// enter joins a room the person may be in: from the reader goroutine or from a request
// finished off it.
func (s *Session) enter(name string, since *uint64, epoch, ref string) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	r := s.rooms[name]
	if r == nil {
		if err := s.roomLimit(protocol.IsDM(name)); err != nil {
			s.mu.Unlock()
			s.fail(err, ref)
			return
		}
		if perr := s.hub.hold(s, name); perr != nil {
			s.mu.Unlock()
			s.fail(perr, ref)
			return
		}
		var err error
		if r, err = s.hub.acquire(name); err != nil {
			s.mu.Unlock()
			s.hub.unhold(s, name)
			if errors.Is(err, ErrTooManyRooms) {
				s.fail(&protocol.Error{Code: protocol.CodeLimitExceeded, Message: fmt.Sprintf(
					"this node serves %d rooms, its most (--max-rooms); try a room with people in it", s.hub.cfg.MaxRooms)}, ref)
				return
			}
			s.fail(&protocol.Error{Code: protocol.CodeUnavailable, Message: "the server is shutting down"}, ref)
			return
		}
		s.rooms[name] = r
		s.roomsHeld.Store(name, true)
	}
	s.current = name
	s.mu.Unlock()
	r.post(op{kind: opJoin, s: s, since: since, epoch: epoch, ref: ref})
}

// dmRoomsPerRoom: direct-message rooms are counted apart from the others, up to this many
// times --max-rooms-per-conn, so that someone with many conversations can still join rooms
// (a client is in all of its DMs) while a connection's rooms stay bounded.
const dmRoomsPerRoom = 4

// roomLimit says whether the session may be in one more room (a DM room when dm). s.mu is
// held.
func (s *Session) roomLimit(dm bool) *protocol.Error {
	dms := 0
	for name := range s.rooms {
		if protocol.IsDM(name) {
			dms++
		}
	}
	limit := s.hub.cfg.MaxRoomsPerConn
	if dm {
		if dms >= dmRoomsPerRoom*limit {
			return &protocol.Error{Code: protocol.CodeLimitExceeded, Message: fmt.Sprintf(
				"a connection may be in at most %d direct-message rooms (%d × --max-rooms-per-conn); leave one first", dmRoomsPerRoom*limit, dmRoomsPerRoom)}
		}
		return nil
	}
	if len(s.rooms)-dms >= limit {
		return &protocol.Error{Code: protocol.CodeLimitExceeded, Message: fmt.Sprintf(
			"a connection may be in at most %d rooms (--max-rooms-per-conn); leave one first", limit)}
	}
	return nil
}

func (s *Session) leave(req protocol.Request) {
	s.mu.Lock()
	r := s.rooms[req.Room]
	if r != nil {
		delete(s.rooms, req.Room)
		s.roomsHeld.Delete(req.Room)
		if s.current == req.Room {
			s.current = ""
			for name := range s.rooms {
				s.current = name
				break
			}
		}
	}
	s.mu.Unlock()
	if r != nil {
		r.post(op{kind: opLeave, s: s})
		s.hub.release(r)
		s.hub.unhold(s, req.Room)
	}
	left := protocol.Encode(protocol.Left{Type: protocol.TypeLeft, Room: req.Room, Ref: req.Ref})
	if !req.Hide || !protocol.IsDM(req.Room) {
		s.conn.Send(left)
		return
	}
	// Hidden: off the person's list of conversations until one of the two opens it again;
	// left answers once that is stored.
	s.async(func(ctx context.Context) {
		if err := s.hub.people.HideDM(ctx, s.lu.id, req.Room); err != nil {
			s.hub.storageFailed("hiding a direct-message room", req.Room, err)
			s.tell(&protocol.Error{Code: protocol.CodeUnavailable, Message: "the conversation cannot be hidden right now; try again"}, req.Ref)
			return
		}
		s.conn.Send(left)
	})
}

// history reads a page in the background (at most MaxReads storage reads at once per
// session) and sends it when it is there.
func (s *Session) history(req protocol.Request) {
	r := s.member(req)
	if r == nil {
		return
	}
	s.background(func(ctx context.Context) {
		start := time.Now()
		msgs, more, err := s.hub.broker.Before(ctx, r.name, req.Before, req.Limit)
		s.hub.cfg.Metrics.Read(ReadHistory, time.Since(start), err)
		if err != nil {
			s.hub.storageFailed("reading history", r.name, err)
			s.tell(&protocol.Error{Code: protocol.CodeUnavailable, Message: "history is unavailable right now; try again"}, req.Ref)
			return
		}
		h := protocol.History{Type: protocol.TypeHistory, Room: r.name, Messages: protocol.EncodeEntries(msgs), HasMore: more, Ref: req.Ref}
		s.conn.Send(h.Encode())
	})
}

// background runs a storage read of this session in a goroutine, at most MaxReads at once:
// a client that asks for more waits for one to end.
func (s *Session) background(f func(ctx context.Context)) {
	s.reads <- struct{}{}
	h := s.hub
	go func() {
		defer func() { <-s.reads }()
		ctx, cancel := context.WithTimeout(h.ctx, h.cfg.ReadTimeout)
		defer cancel()
		release, err := h.readSlot(ctx)
		if err != nil {
			f(ctx) // ctx has ended: f fails at once and says so
			return
		}
		defer release()
		f(ctx)
	}()
}

// async runs a request's storage work (a write, a small read) off the reader goroutine, in
// one of the session's MaxReads slots (the reader waits for one, so that a client cannot
// start more at once), within ReadTimeout.
func (s *Session) async(f func(ctx context.Context)) {
	s.reads <- struct{}{}
	h := s.hub
	go func() {
		defer func() { <-s.reads }()
		ctx, cancel := context.WithTimeout(h.ctx, h.cfg.ReadTimeout)
		defer cancel()
		f(ctx)
	}()
}

// readTurn waits, off the reader goroutine, until the session may read storage: one of its
// MaxReads slots and, when paced, a token of its history rate (a read the client asked
// for, such as a recovery). It waits at most ReadTimeout; a read that would wait longer for
// the history rate is refused with limit_exceeded (a *protocol.Error).
func (s *Session) readTurn(paced bool) (release func(), err error) {
	h := s.hub
	ctx, cancel := context.WithTimeout(h.ctx, h.cfg.ReadTimeout)
	defer cancel()
	if paced && s.historyLimiter != nil {
		res := s.historyLimiter.Reserve()
		deadline, _ := ctx.Deadline()
		if !res.OK() || time.Now().Add(res.Delay()).After(deadline) {
			res.Cancel()
			return nil, s.historyRateError("recoveries of missed messages")
		}
		if d := res.Delay(); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return nil, ctx.Err()
			}
		}
	}
	select {
	case s.reads <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for a read of this connection to end: %w", ctx.Err())
	}
	node, err := h.readSlot(ctx)
	if err != nil {
		<-s.reads
		return nil, err
	}
	mine := func() { node(); <-s.reads }
	// What was read for this connection before waits in its send queue until the client
	// reads it: a client that asks for more than it reads gets no more read for it.
	if q, ok := s.conn.(interface{ Queued() int64 }); ok {
		for q.Queued() > maxReadBacklog {
			select {
			case <-time.After(backlogPoll):
			case <-ctx.Done():
				mine()
				return nil, fmt.Errorf("waiting for the client to read what it asked for before: %w", ctx.Err())
			}
		}
	}
	return mine, nil
}

// A read of a session's waits while more than maxReadBacklog bytes wait in its send queue,
// looking again every backlogPoll.
const (
	maxReadBacklog = 8 << 20
	backlogPoll    = 20 * time.Millisecond
)

// historyRateError refuses reads beyond --history-rate.
func (s *Session) historyRateError(what string) *protocol.Error {
	return &protocol.Error{Code: protocol.CodeLimitExceeded, Message: fmt.Sprintf(
		"at most %g history requests a second, bursts of %d (--history-rate), %s included; ask again later",
		s.hub.cfg.HistoryRate, s.hub.cfg.HistoryBurst, what)}
}

// rename gives the person a new display name, everywhere.
func (s *Session) rename(req protocol.Request) {
	name, _ := protocol.NormalizeName(req.Name)
	s.hub.rename(s.lu, name, true)
	s.conn.Send(protocol.Encode(protocol.Ack{Type: protocol.TypeAck, Ref: req.Ref}))
}

// dm opens the direct-message room of the session's person and another person: it records
// the room's two people (once), adds it to both people's lists of conversations, tells the
// other person's devices, and joins it. One may open a conversation with someone one
// shares a room with, or reopen one that exists.
func (s *Session) dm(req protocol.Request) {
	me := s.me()
	if req.User == me.ID {
		s.fail(&protocol.Error{Code: protocol.CodeBadRequest, Message: "a direct-message room is with someone else"}, req.Ref)
		return
	}
	room := DMRoom(me.ID, req.User)
	shared := s.sharesRoomWith(req.User)
	s.async(func(ctx context.Context) { s.openDM(ctx, req, me, room, shared) })
}

// openDM is dm's storage work, off the reader goroutine.
func (s *Session) openDM(ctx context.Context, req protocol.Request, me protocol.User, room string, shared bool) {
	h := s.hub
	// The other person's name: as connected here, as the room was opened with, or else
	// as seen in a room shared with them.
	other := protocol.User{ID: req.User}
	var err error
	if !shared {
		// Not in a room with them now: only a conversation they had before reopens (a
		// record that cannot be decoded still says it was opened).
		var found bool
		if _, found, err = h.people.DM(ctx, room); found {
			err = nil
		} else if err == nil {
			code, msg := protocol.CodeNotFound, "nobody with this id is in a room with you"
			if h.localUserOf(req.User) != nil {
				code, msg = protocol.CodeForbidden, "you can write to people you share a room with"
			}
			s.fail(&protocol.Error{Code: code, Message: msg}, req.Ref)
			return
		}
	}
	if u := h.localUserOf(req.User); u != nil {
		other = u.user()
	} else if name, ok := protocol.NormalizeName(req.Name); ok && shared {
		other.Name = name
	}
	if err == nil {
		var perr *protocol.Error
		if other, perr, err = h.people.OpenDM(ctx, room, me, other); perr != nil {
			s.fail(perr, req.Ref)
			return
		}
	}
	if err != nil {
		h.storageFailed("opening a direct-message room", room, err)
		s.tell(&protocol.Error{Code: protocol.CodeUnavailable, Message: "the direct-message room cannot be opened right now; try again"}, req.Ref)
		return
	}
	h.cacheDM(room, [2]string{me.ID, other.ID})
	// The other person hears of it on every node they are on.
	if u := h.localUserOf(other.ID); u != nil {
		obj := protocol.Encode(protocol.DMOpened{Type: protocol.TypeDM, Room: room, User: me})
		for _, d := range h.devices(u) {
			d.conn.Send(obj)
		}
	}
	h.bus.PublishUser(other.ID, presence.UserEvent{Kind: "dm", Room: room, Other: me})
	// So do the opener's other devices, here and on the other nodes.
	mine := protocol.Encode(protocol.DMOpened{Type: protocol.TypeDM, Room: room, User: other})
	for _, d := range h.devices(s.lu) {
		if d != s {
			d.conn.Send(mine)
		}
	}
	h.bus.PublishUser(me.ID, presence.UserEvent{Kind: "dm", Room: room, Other: other})
	s.enter(room, nil, "", req.Ref)
}

// sharesRoomWith reports whether a person is present (on any node) in one of the rooms
// this session is in, direct-message rooms aside.
func (s *Session) sharesRoomWith(userID string) bool {
	s.mu.Lock()
	rooms := maps.Clone(s.rooms)
	s.mu.Unlock()
	answers := make(chan bool, len(rooms))
	asked := 0
	for name, r := range rooms {
		if protocol.IsDM(name) {
			continue
		}
		if r.post(op{kind: opHas, user: protocol.User{ID: userID}, present: answers}) {
			asked++
		}
	}
	for range asked {
		if <-answers {
			return true
		}
	}
	return false
}

// read moves the person's read position in a room (never backwards), for their other
// devices and their next visit.
func (s *Session) read(req protocol.Request) {
	r := s.member(req)
	if r == nil || !s.lu.moveRead(r.name, req.Seq) {
		return
	}
	u, h, room, seq := s.lu, s.hub, r.name, req.Seq
	s.background(func(ctx context.Context) {
		// Compare-and-set: two devices, here or on other nodes, may store positions at the
		// same time; the one further on wins.
		if err := h.people.MoveRead(ctx, u.id, room, seq); err != nil {
			h.storageFailed("storing a read position", room, err)
			return
		}
		h.bus.PublishUser(u.id, presence.UserEvent{Kind: "read", Room: room, Seq: seq})
		for _, d := range h.devices(u) {
			if d != s {
				if _, in := d.roomsHeld.Load(room); in {
					go h.sendReadState(u, room, seq, d)
				}
			}
		}
	})
}

// joined runs when the room admitted the session: the person's read position there follows
// the joined reply, when they have one.
func (s *Session) joined(room string) {
	u, h := s.lu, s.hub
	if _, known := u.readPosition(room); u.fresh && !known {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(h.ctx, h.cfg.ReadTimeout)
		defer cancel()
		seq, ok, err := h.readPosition(ctx, u, room)
		if err != nil {
			h.storageFailed("reading a read position", room, err)
		}
		if ok {
			h.sendReadState(u, room, seq, s)
		}
	}()
}

// fail refuses a request. Refusals are answered at most at the pace of errLimiter: a client
// that floods the server with requests it refuses gets a bounded number of errors (the rest
// are dropped), so that its replies never fill its send queue.
func (s *Session) fail(perr *protocol.Error, ref string) {
	if s.errLimiter != nil && !s.errLimiter.Allow() {
		s.hub.cfg.Metrics.ReplyDropped(perr.Code)
		return
	}
	s.tell(perr, ref)
}

// tell sends an error that answers a request's outcome (a message that could not be
// stored, a read that failed): always, since the client acts on it.
func (s *Session) tell(perr *protocol.Error, ref string) {
	s.hub.cfg.Metrics.ReplyError(perr.Code)
	s.conn.Send(protocol.EncodeError(perr, ref))
}

// Close leaves every room, telling the other members. It runs once, when the connection
// has ended.
func (s *Session) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	rooms := s.rooms
	s.rooms = map[string]*room{}
	s.mu.Unlock()
	for name, r := range rooms {
		r.post(op{kind: opLeave, s: s})
		s.hub.release(r)
		s.hub.unhold(s, name)
		s.roomsHeld.Delete(name)
	}
	s.hub.detach(s)
}
