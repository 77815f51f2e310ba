import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { latestNames, makeDirectory } from './chat/people';
import type { ChatState, DmRefusal } from './chat/state';
import { emptyRoom, hasIdentity, isDmRoom, isMine, isPartial } from './chat/state';
import { buildTimeline } from './chat/timeline';
import { useChat } from './chat/useChat';
import { Avatar } from './components/Avatar';
import { BrowseRooms } from './components/BrowseRooms';
import { Composer } from './components/Composer';
import { ConfirmDialog } from './components/ConfirmDialog';
import type { MessageActions, ScrollPlace } from './components/MessageList';
import { canChange, MessageList } from './components/MessageList';
import { Menu } from './components/Menu';
import { Logo, NameDialog } from './components/NameDialog';
import { OnlineList } from './components/OnlineList';
import type { Anchor } from './components/Popover';
import { Popover } from './components/Popover';
import { RoomList } from './components/RoomList';
import { RoomTopic } from './components/RoomTopic';
import { NotificationBanner, SettingsMenu } from './components/Settings';
import { StatusIndicator, statusLabel, useNow } from './components/StatusIndicator';
import { Toasts } from './components/Toasts';
import { TypingIndicator } from './components/TypingIndicator';
import { useAttention } from './lib/attention';
import { useNotifications } from './lib/useNotifications';
import { loadName, loadRooms, saveName } from './lib/storage';
import { adoptTokenFromUrl, pendingToken } from './lib/session';
import { useRoomRoute } from './lib/useRoute';
import { checkName, isValidRoom, normalizeRoomInput } from './lib/validate';
import type { User } from './protocol/types';
import { DEFAULT_ROOM, DM_PREFIX } from './protocol/types';
import { fetchRooms } from './components/BrowseRooms';

/** How long the UI waits for the direct-message room it asked for before giving up on opening it. */
const DM_WAIT_MS = 15_000;

export function App() {
  // A host application's sign-in may hand over a token in the page URL: taken out of the
  // address bar and kept until the client exchanges it for the session cookie.
  useState(() => adoptTokenFromUrl());
  const [name, setName] = useState<string | null>(() => {
    const stored = loadName();
    const r = stored === null ? null : checkName(stored);
    if (r && r.ok) return r.name;
    // With a token to sign in with the server knows the person and their name: no need to ask.
    return pendingToken() !== null ? '' : null;
  });

  const rename = useCallback((n: string) => {
    saveName(n);
    setName(n);
  }, []);

  if (name === null) {
    return (
      <div className="app app-empty">
        <NameDialog firstRun onSubmit={rename} />
      </div>
    );
  }
  return <ChatApp name={name} />;
}

function ChatApp({ name }: { name: string }) {
  const [route, navigate] = useRoomRoute();
  const room = route.room;
  // Everyone starts in #general besides the room in the URL; later visits restore the rooms.
  const [savedRooms] = useState(() => {
    const saved = loadRooms().filter(isValidRoom);
    return saved.length > 0 ? saved : [DEFAULT_ROOM];
  });
  const { state, actions } = useChat({ name, room, rooms: savedRooms });
  const [sidebarOpen, setSidebarOpen] = useState(false);
  const [renaming, setRenaming] = useState(false);
  const [renameAsked, setRenameAsked] = useState(false);
  const [browsing, setBrowsing] = useState(false);
  const [editingId, setEditingId] = useState<string | null>(null);
  const [confirmDelete, setConfirmDelete] = useState<{ room: string; id: string } | null>(null);
  const [confirmSignOut, setConfirmSignOut] = useState<'here' | 'everywhere' | null>(null);
  const [scrollMemory] = useState(() => new Map<string, ScrollPlace>());
  const [personMenu, setPersonMenu] = useState<{ user: User; anchor: Anchor; trigger: HTMLElement | null } | null>(null);
  const [dmTarget, setDmTarget] = useState<string | null>(null);
  /** The person a direct message was last asked for, and where they were on the screen: a refusal is said there. */
  const [dmAsked, setDmAsked] = useState<{ user: User; anchor: Anchor } | null>(null);

  const identity = hasIdentity(state);
  const current = state.rooms[room] ?? emptyRoom(room);
  const rooms = state.roomOrder.map((r) => state.rooms[r]).filter(Boolean);
  const nameRefused = state.fatal?.code === 'invalid_name';
  const forbidden = state.forbidden[room] ?? null;
  const { me, myIds, userId } = state;

  // The person is gone (signed out, or the server ended the session while connected): a
  // conversation of theirs is not the next person's to show.
  const lastUserId = useRef(userId);
  useEffect(() => {
    const was = lastUserId.current;
    lastUserId.current = userId;
    if (was !== null && userId === null && room.startsWith(DM_PREFIX)) navigate(DEFAULT_ROOM, true);
  }, [userId, room, navigate]);

  // The server's name for the person is the one to remember (a rename on another device too).
  const myName = me?.name;
  useEffect(() => {
    if (myName) saveName(myName);
  }, [myName]);

  // How people are named on this screen: the current name by user id, and a short part of the
  // id for two different people who share one (messages, online list, typing, mentions, DMs).
  const dmKey = rooms.map((r) => (r.dm ? `${r.dm.id}:${r.dm.name}` : '')).join(',');
  const people = useMemo(() => {
    if (!identity) return makeDirectory({ identity: false, names: {}, seen: [] });
    const seen: User[] = [...current.online, ...current.messages.map((m) => m.from), ...Object.values(current.typing).map((t) => t.user), ...current.notices.map((n) => n.user)];
    if (me) seen.push(me);
    for (const r of rooms) if (r.dm) seen.push(r.dm);
    return makeDirectory({ identity, names: { ...latestNames(current.messages), ...state.names }, seen });
    // Rooms matter only through their DM partners (dmKey): a new array every render otherwise.
  }, [identity, current.online, current.messages, current.typing, current.notices, me, state.names, dmKey]);

  const dmPartner = current.dm;
  const isDm = identity && isDmRoom(current);
  const title = isDm ? (dmPartner ? people.label(dmPartner) : 'Direct message') : `#${room}`;

  const openRoom = useCallback(
    (r: string) => {
      navigate(r);
      setSidebarOpen(false);
    },
    [navigate],
  );

  const leaveRoom = useCallback(
    (r: string) => {
      const order = state.roomOrder.filter((x) => x !== r);
      actions.leaveRoom(r);
      if (r === room) navigate(order[0] ?? DEFAULT_ROOM, true);
    },
    [actions, navigate, room, state.roomOrder],
  );

  // Hiding the conversation shown goes to #general: staying on its address would show it again.
  const hideDm = useCallback(
    (r: string) => {
      if (actions.hideDm(r) && r === room) navigate(DEFAULT_ROOM, true);
    },
    [actions, navigate, room],
  );

  // "Message privately": the DM room the user has, or the one the server opens (its `joined`
  // names the other person; the room is opened once it is there).
  const startDm = useCallback(
    (user: User, anchor: Anchor) => {
      const existing = state.roomOrder.find((r) => state.rooms[r]?.dm?.id === user.id);
      if (existing) openRoom(existing);
      else if (actions.openDm(user.id)) {
        setDmTarget(user.id);
        setDmAsked({ user, anchor });
      } else actions.toast('offline', 'You are offline: direct messages can be opened once the connection is back.');
    },
    [actions, openRoom, state.roomOrder, state.rooms],
  );
  // Refused (no room shared with them, a full list of conversations): nothing is waiting any
  // more; the note next to the person says why.
  const { dmRefusal } = state;
  useEffect(() => {
    if (dmRefusal) setDmTarget((t) => (t === dmRefusal.user ? null : t));
  }, [dmRefusal]);
  const dmNote = dmRefusal && dmAsked && dmAsked.user.id === dmRefusal.user ? { refusal: dmRefusal, ...dmAsked } : null;
  const { clearDmRefusal } = actions;
  const closeDmNote = useCallback(() => {
    setDmAsked(null);
    clearDmRefusal();
  }, [clearDmRefusal]);
  useEffect(() => closeDmNote(), [room, closeDmNote]);
  useEffect(() => {
    if (dmTarget === null) return;
    const found = state.roomOrder.find((r) => state.rooms[r]?.dm?.id === dmTarget);
    if (found) {
      setDmTarget(null);
      openRoom(found);
      return;
    }
    const t = setTimeout(() => setDmTarget(null), DM_WAIT_MS);
    return () => clearTimeout(t);
  }, [dmTarget, state.roomOrder, state.rooms, openRoom]);

  const openPerson = useCallback((user: User, anchor: Anchor, trigger: HTMLElement | null) => setPersonMenu({ user, anchor, trigger }), []);
  const closePerson = useCallback(() => {
    setPersonMenu((p) => {
      if (p?.trigger?.isConnected) p.trigger.focus();
      return null;
    });
  }, []);

  useEffect(() => setEditingId(null), [room]);

  // A rename sent to the server closes the dialog once it is accepted (and stays with the
  // server's reason when not).
  useEffect(() => {
    if (renameAsked && state.rename === null) {
      setRenameAsked(false);
      setRenaming(false);
    }
  }, [renameAsked, state.rename]);

  // The drawer (narrow screens) takes focus when it opens and closes on Escape.
  useEffect(() => {
    if (!sidebarOpen) return;
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') setSidebarOpen(false);
    };
    window.addEventListener('keydown', onKey);
    document.querySelector<HTMLElement>('#sidebar a[aria-current="page"]')?.focus();
    return () => window.removeEventListener('keydown', onKey);
  }, [sidebarOpen]);

  // The tab title and favicon count what has not been seen: other rooms' messages, and the
  // shown room's while the tab is hidden.
  const unread = rooms.reduce((n, r) => n + r.unread, 0);
  const mentioned = rooms.some((r) => r.mentions > 0);
  const otherUnread = rooms.reduce((n, r) => n + (r.name === room ? 0 : r.unread), 0);
  useAttention(title, unread, mentioned);

  const notify = useNotifications(state.alerts, actions.alertsShown, openRoom, people.label);

  const mine = useCallback((u: User) => isMine({ me, myIds, userId }, u), [me, myIds, userId]);
  const rows = useMemo(
    () =>
      buildTimeline({
        messages: current.messages,
        notices: current.notices,
        pending: current.pending,
        overlays: current.overlays,
        ops: current.ops,
        isMine: mine,
        me,
        people,
        divider: current.divider,
      }),
    [current.messages, current.notices, current.pending, current.overlays, current.ops, current.divider, mine, me, people],
  );
  const loadOlder = useCallback(() => actions.loadOlder(room), [actions, room]);
  // A new callback (so the list calls it again) when the tab comes back, the server's read
  // position arrives (it may have drawn a divider), or the client has caught up with the
  // room in the URL.
  const { readKnown } = current;
  const { hidden, currentRoom } = state;
  const onSeen = useCallback(() => {
    if (!hidden && currentRoom === room) actions.markRead(room);
    // readKnown: a new callback when the server's position arrives, not a condition.
    void readKnown;
  }, [actions, room, hidden, currentRoom, readKnown]);
  const messageActions = useMemo<MessageActions>(
    () => ({
      react: (id, emoji, on) => actions.react(room, id, emoji, on),
      edit: (id, body) => actions.edit(room, id, body),
      requestDelete: (id) => setConfirmDelete({ room, id }),
      retry: actions.retry,
      discard: actions.discard,
    }),
    [actions, room],
  );
  const editLast = useCallback(() => {
    for (let i = rows.length - 1; i >= 0; i--) {
      const r = rows[i];
      if (r.kind === 'message' && canChange(r)) {
        setEditingId(r.id);
        return true;
      }
    }
    return false;
  }, [rows]);
  const changeEditing = useCallback((id: string | null) => {
    setEditingId(id);
    if (id === null) requestAnimationFrame(focusComposer);
  }, []);
  const members = useMemo(() => {
    const others = current.online.filter((u) => !isMine({ me, myIds, userId }, u));
    if (!identity) return [...new Set(others.map((u) => u.name))];
    return others.map((u) => ({ key: u.id, name: people.name(u), label: people.label(u), color: people.color(u) }));
  }, [current.online, me, myIds, userId, identity, people]);

  // A complete list counts people: by user id with identity, by name before (one name with two
  // tabs is one person); a large room's list is partial and its member count is all there is.
  const onlineCount = isPartial(current) ? current.onlineCount : identity ? current.online.length : new Set(current.online.map((u) => u.name)).size;
  const invalid = route.invalid;
  const loadRoomList = useMemo(() => (identity ? (signal: AbortSignal) => fetchRooms(signal).then((list) => list.filter((r) => !r.name.startsWith(DM_PREFIX))) : undefined), [identity]);

  return (
    <div className={`app${sidebarOpen ? ' sidebar-open' : ''}`}>
      <aside id="sidebar" className="sidebar" aria-label="Rooms and people" data-testid="sidebar">
        <div className="brand">
          <Logo size={30} />
          <span className="brand-name">distchat</span>
          <SettingsMenu
            settings={notify.settings}
            permission={notify.permission}
            onChange={notify.setSettings}
            onRequestPermission={notify.request}
            dms={identity}
            onSignOut={identity ? () => setConfirmSignOut('here') : undefined}
            onSignOutEverywhere={identity ? () => setConfirmSignOut('everywhere') : undefined}
          />
          <button type="button" className="icon-button sidebar-close" aria-label="Close sidebar" onClick={() => setSidebarOpen(false)}>
            <svg viewBox="0 0 16 16" width="14" height="14" aria-hidden="true">
              <path d="M4 4l8 8M12 4l-8 8" stroke="currentColor" strokeWidth="1.8" strokeLinecap="round" />
            </svg>
          </button>
        </div>
        <div className="sidebar-scroll">
          <RoomList rooms={rooms} current={invalid === null ? room : ''} onOpen={openRoom} onLeave={leaveRoom} onBrowse={() => setBrowsing(true)} people={identity ? people : undefined} onHide={identity ? hideDm : undefined} />
          {invalid === null && forbidden === null && (
            <OnlineList
              users={current.online}
              total={current.onlineCount}
              myIds={state.myIds}
              stale={state.status !== 'online'}
              people={identity ? people : undefined}
              myId={userId}
              onPerson={identity ? openPerson : undefined}
            />
          )}
        </div>
        <button type="button" className="me" onClick={() => setRenaming(true)} title="Change your display name" data-testid="me-button">
          <Avatar name={me?.name ?? name} color={identity && me ? people.color(me) : undefined} />
          <span className="me-text">
            <span className="me-name" data-testid="me-name">
              {me?.name ?? (name || 'Signing in…')}
            </span>
            <span className="me-hint">Change name</span>
          </span>
          <svg className="me-edit" viewBox="0 0 16 16" width="14" height="14" aria-hidden="true">
            <path d="M10.5 2.5l3 3L6 13H3v-3z" fill="none" stroke="currentColor" strokeWidth="1.5" strokeLinejoin="round" />
          </svg>
        </button>
      </aside>
      <div className="backdrop" onClick={() => setSidebarOpen(false)} aria-hidden="true" />

      <main className="chat" aria-labelledby="room-title">
        <header className="chat-header">
          <button
            type="button"
            className="icon-button sidebar-toggle"
            aria-label="Open rooms and people"
            aria-controls="sidebar"
            aria-expanded={sidebarOpen}
            onClick={() => setSidebarOpen(true)}
            data-testid="sidebar-toggle"
          >
            <svg viewBox="0 0 20 20" width="20" height="20" aria-hidden="true">
              <path d="M3 5h14M3 10h14M3 15h14" stroke="currentColor" strokeWidth="1.8" strokeLinecap="round" />
            </svg>
            {otherUnread > 0 && <span className={`toggle-dot${mentioned ? ' mention' : ''}`} aria-hidden="true" />}
          </button>
          <div className="chat-title">
            {invalid !== null ? (
              <h1 id="room-title" data-testid="room-title">
                Room not found
              </h1>
            ) : forbidden !== null ? (
              <h1 id="room-title" data-testid="room-title">
                Private conversation
              </h1>
            ) : isDm ? (
              <>
                <h1 id="room-title" data-testid="room-title" className="dm-title">
                  {dmPartner && <Avatar name={people.name(dmPartner)} color={people.color(dmPartner)} size="sm" />}
                  {title}
                </h1>
                <p className="chat-subtitle">
                  <span className="chat-count">Direct message{dmPartner && current.online.some((u) => u.id === dmPartner.id) ? ' · online' : ''}</span>
                </p>
              </>
            ) : (
              <>
                <h1 id="room-title" data-testid="room-title">
                  <span className="room-hash" aria-hidden="true">
                    #
                  </span>
                  {room}
                </h1>
                <p className="chat-subtitle">
                  <span className="chat-count">
                    {onlineCount} {onlineCount === 1 ? 'person' : 'people'} here
                  </span>
                  <RoomTopic key={room} topic={current.topic?.body ?? ''} editable={current.joined && state.status === 'online'} onSave={(t) => actions.setTopic(room, t)} />
                </p>
              </>
            )}
          </div>
          <StatusIndicator status={state.status} retryAt={state.retryAt} fatal={state.fatal !== null} />
        </header>

        {notify.offer && <NotificationBanner onEnable={notify.request} onDismiss={notify.dismissOffer} dms={identity} />}

        {invalid !== null ? (
          <InvalidRoom path={invalid} onOpen={openRoom} onBrowse={() => setBrowsing(true)} />
        ) : forbidden !== null ? (
          <Forbidden message={forbidden} onOpen={openRoom} />
        ) : (
          <>
            <MessageList
              key={room}
              room={room}
              rows={rows}
              hasMore={current.hasMore}
              loadingOlder={current.loadingOlder}
              loaded={current.loaded}
              onLoadOlder={loadOlder}
              actions={messageActions}
              myName={me?.name ?? name}
              editingId={editingId}
              onEditingChange={changeEditing}
              scrollMemory={scrollMemory}
              title={title}
              dm={isDm}
              onPerson={identity ? openPerson : undefined}
              onSeen={onSeen}
            />
            <TypingIndicator typing={current.typing} label={people.label} />
            <Composer
              room={room}
              target={title}
              maxBytes={state.limits.max_body_bytes}
              disabled={state.fatal !== null}
              reason={state.status === 'online' ? null : <DisabledReason state={state} onRetry={actions.reconnectNow} onRename={() => setRenaming(true)} />}
              onSend={(body) => {
                actions.send(room, body);
                notify.engage();
              }}
              onTyping={() => actions.typing(room)}
              members={members}
              onEditLast={editLast}
            />
          </>
        )}
      </main>

      <Toasts toasts={state.toasts} onDismiss={actions.dismissToast} />

      {browsing && <BrowseRooms joined={identity ? rooms.filter((r) => !isDmRoom(r)).map((r) => r.name) : state.roomOrder} onOpen={openRoom} onClose={() => setBrowsing(false)} load={loadRoomList} reservedPrefix={identity ? DM_PREFIX : undefined} />}

      {personMenu && (
        <Menu
          anchor={personMenu.anchor}
          align="start"
          label={people.label(personMenu.user)}
          testId="person-menu"
          onClose={closePerson}
          items={[{ key: 'dm', label: 'Message privately', hint: people.label(personMenu.user), icon: <MessageIcon />, onSelect: () => startDm(personMenu.user, personMenu.anchor) }]}
        />
      )}

      {dmNote && (
        <Popover anchor={dmNote.anchor} align="start" onClose={closeDmNote} className="dm-note" role="status" label={`Cannot message ${people.label(dmNote.user)}`} testId="dm-note">
          <div className="dm-note-head">
            <Avatar name={people.name(dmNote.user)} color={people.color(dmNote.user)} size="sm" />
            <strong className="dm-note-name">{people.label(dmNote.user)}</strong>
            <button type="button" className="icon-button dm-note-close" aria-label="Dismiss" onClick={closeDmNote} data-testid="dm-note-dismiss">
              <svg viewBox="0 0 16 16" width="12" height="12" aria-hidden="true">
                <path d="M4 4l8 8M12 4l-8 8" stroke="currentColor" strokeWidth="1.8" strokeLinecap="round" />
              </svg>
            </button>
          </div>
          <p className="dm-note-text" data-testid="dm-note-text">
            {dmRefusalText(dmNote.refusal, people.name(dmNote.user))}
          </p>
        </Popover>
      )}

      {confirmDelete && (
        <ConfirmDialog
          title="Delete message?"
          confirmLabel="Delete"
          danger
          onCancel={() => setConfirmDelete(null)}
          onConfirm={() => {
            actions.deleteMessage(confirmDelete.room, confirmDelete.id);
            setConfirmDelete(null);
          }}
        >
          Everyone in the room will see that a message was deleted. This cannot be undone.
        </ConfirmDialog>
      )}

      {confirmSignOut && (
        <ConfirmDialog
          title={confirmSignOut === 'everywhere' ? 'Sign out everywhere?' : 'Sign out?'}
          confirmLabel={confirmSignOut === 'everywhere' ? 'Sign out everywhere' : 'Sign out'}
          danger
          onCancel={() => setConfirmSignOut(null)}
          onConfirm={() => {
            const everywhere = confirmSignOut === 'everywhere';
            setConfirmSignOut(null);
            setSidebarOpen(false);
            // A conversation of the old identity is not the new person's to show.
            if (isDm) navigate(DEFAULT_ROOM, true);
            void actions.signOut(everywhere);
          }}
        >
          {confirmSignOut === 'everywhere' ? (
            <>
              <p>This ends your session on every device and browser{me ? ` where you are ${me.name}` : ''}, this one included. Each of them continues as a new guest.</p>
              <p>Your direct messages and unread positions stay with the old identity.</p>
            </>
          ) : (
            <>
              <p>You will be a new person here: your direct messages and unread positions stay with the old identity{me ? `, ${me.name}` : ''}.</p>
              <p>Others will see you as someone new, even under the same name.</p>
            </>
          )}
        </ConfirmDialog>
      )}

      {state.fatal?.code === 'unauthorized' && <SignInNeeded message={state.fatal.message} onRetry={actions.reconnectNow} />}

      {(renaming || nameRefused) && (
        <NameDialog
          firstRun={false}
          initial={me?.name ?? name}
          busy={renameAsked && state.rename?.status === 'sending'}
          serverError={nameRefused ? state.fatal?.message : state.rename?.status === 'failed' ? (state.rename.error ?? null) : null}
          onSubmit={(n) => {
            // A connected server with identity renames in place and answers; otherwise the name
            // is used for the next connection (an older server: at once).
            const inPlace = identity && state.status === 'online' && state.fatal === null;
            if (!identity) saveName(n);
            actions.rename(n);
            if (inPlace) setRenameAsked(true);
            else setRenaming(false);
          }}
          onCancel={
            nameRefused
              ? undefined
              : () => {
                  setRenaming(false);
                  setRenameAsked(false);
                  actions.clearRename();
                }
          }
        />
      )}
    </div>
  );
}

/** Why a direct message could not be opened, in the person's terms. */
function dmRefusalText(r: DmRefusal, name: string): string {
  switch (r.code) {
    case 'forbidden':
    case 'not_found':
      return `${name} is not in a room with you right now. You can message people who share a room with you.`;
    default:
      // A full list of conversations (the server says whose), or storage busy.
      return r.message ? r.message.charAt(0).toUpperCase() + r.message.slice(1) : 'The conversation cannot be opened right now; try again.';
  }
}

function focusComposer(): void {
  document.querySelector<HTMLTextAreaElement>('[data-testid="composer-input"]')?.focus();
}

/** Shown for /r/<something that is not a room name>, instead of quietly showing #general. */
function InvalidRoom({ path, onOpen, onBrowse }: { path: string; onOpen(room: string): void; onBrowse(): void }) {
  const suggestion = normalizeRoomInput(path);
  return (
    <div className="invalid-room" role="alert" data-testid="invalid-room">
      <div className="room-start-icon" aria-hidden="true">
        ?
      </div>
      <h2>“{path.length > 80 ? `${path.slice(0, 80)}…` : path}” is not a room name</h2>
      <p>Room names are 1–64 lowercase letters, digits, - or _, as in /r/general.</p>
      <div className="invalid-room-actions">
        {suggestion && suggestion !== DEFAULT_ROOM && (
          <button type="button" className="button primary" onClick={() => onOpen(suggestion)} data-testid="invalid-room-suggestion">
            Open #{suggestion}
          </button>
        )}
        <button type="button" className={`button ${suggestion && suggestion !== DEFAULT_ROOM ? 'secondary' : 'primary'}`} onClick={() => onOpen(DEFAULT_ROOM)} data-testid="invalid-room-general">
          Go to #general
        </button>
        <button type="button" className="button secondary" onClick={onBrowse}>
          Browse rooms
        </button>
      </div>
    </div>
  );
}

/** Why messages are not going out right now (or why nothing can be sent at all). */
function DisabledReason({ state, onRetry, onRename }: { state: ChatState; onRetry(): void; onRename(): void }) {
  const now = useNow(state.retryAt !== null);
  if (state.status === 'online') return null;
  if (state.fatal) {
    return (
      <>
        <span>Disconnected: {state.fatal.message}</span>
        {state.fatal.code === 'invalid_name' ? (
          <button type="button" className="link-button" onClick={onRename}>
            Change name
          </button>
        ) : (
          <button type="button" className="link-button" onClick={onRetry} data-testid="retry-now">
            Try again
          </button>
        )}
      </>
    );
  }
  if (state.status === 'connecting') return <span>Connecting to the server… Messages you write now are sent once connected.</span>;
  const offline = state.status === 'offline';
  return (
    <>
      <span>
        {offline ? 'You are offline.' : 'Connection lost.'} {statusLabel('reconnecting', state.retryAt, now, false)}. Messages you write are sent when it is back.
      </span>
      <button type="button" className="link-button" onClick={onRetry} data-testid="retry-now">
        Retry now
      </button>
    </>
  );
}

/** Another pair's direct messages (or a room this person may not enter), instead of an empty room. */
function Forbidden({ message, onOpen }: { message: string; onOpen(room: string): void }) {
  return (
    <div className="invalid-room" role="alert" data-testid="forbidden">
      <div className="room-start-icon" aria-hidden="true">
        <svg viewBox="0 0 20 20" width="26" height="26" aria-hidden="true">
          <rect x="4.5" y="9" width="11" height="8" rx="2" fill="none" stroke="currentColor" strokeWidth="1.6" />
          <path d="M7 9V6.5a3 3 0 0 1 6 0V9" fill="none" stroke="currentColor" strokeWidth="1.6" />
        </svg>
      </div>
      <h2>This conversation is private</h2>
      <p>Only the two people in a direct message can read it.</p>
      {message && message !== 'forbidden' && <p className="forbidden-detail">{message.charAt(0).toUpperCase() + message.slice(1)}</p>}
      <div className="invalid-room-actions">
        <button type="button" className="button primary" onClick={() => onOpen(DEFAULT_ROOM)} data-testid="forbidden-general">
          Go to #general
        </button>
      </div>
    </div>
  );
}

/** The server accepts no guests and the host application's token is missing or no longer valid. */
function SignInNeeded({ message, onRetry }: { message: string; onRetry(): void }) {
  return (
    <div className="overlay" data-testid="signin-overlay">
      <div className="dialog" role="alertdialog" aria-modal="true" aria-labelledby="signin-title" aria-describedby="signin-text" data-testid="signin-needed">
        <div className="dialog-logo" aria-hidden="true">
          <Logo />
        </div>
        <h1 id="signin-title" className="dialog-title">
          Sign-in needed
        </h1>
        <p id="signin-text" className="dialog-text">
          {message}
        </p>
        <p className="dialog-text">Sign in again through the page that opened the chat, then try again.</p>
        <div className="dialog-actions">
          <button type="button" className="button primary" onClick={onRetry} data-testid="signin-retry">
            Try again
          </button>
        </div>
      </div>
    </div>
  );
}

function MessageIcon() {
  return (
    <svg viewBox="0 0 16 16" width="15" height="15" aria-hidden="true">
      <path d="M3 4.5A1.5 1.5 0 0 1 4.5 3h7A1.5 1.5 0 0 1 13 4.5v5a1.5 1.5 0 0 1-1.5 1.5H7l-3 2.5V11h0.5A1.5 1.5 0 0 1 3 9.5z" fill="none" stroke="currentColor" strokeWidth="1.4" strokeLinejoin="round" />
    </svg>
  );
}
