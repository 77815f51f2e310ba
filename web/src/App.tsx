import { useCallback, useEffect, useMemo, useState } from 'react';
import type { ChatState } from './chat/state';
import { emptyRoom, isMine, isPartial } from './chat/state';
import { buildTimeline } from './chat/timeline';
import { useChat } from './chat/useChat';
import { Avatar } from './components/Avatar';
import { BrowseRooms } from './components/BrowseRooms';
import { Composer } from './components/Composer';
import { ConfirmDialog } from './components/ConfirmDialog';
import type { MessageActions, ScrollPlace } from './components/MessageList';
import { canChange, MessageList } from './components/MessageList';
import { Logo, NameDialog } from './components/NameDialog';
import { OnlineList } from './components/OnlineList';
import { RoomList } from './components/RoomList';
import { RoomTopic } from './components/RoomTopic';
import { NotificationBanner, SettingsMenu } from './components/Settings';
import { StatusIndicator, statusLabel, useNow } from './components/StatusIndicator';
import { Toasts } from './components/Toasts';
import { TypingIndicator } from './components/TypingIndicator';
import { useAttention } from './lib/attention';
import { useNotifications } from './lib/useNotifications';
import { loadName, loadRooms, saveName } from './lib/storage';
import { useRoomRoute } from './lib/useRoute';
import { checkName, isValidRoom, normalizeRoomInput } from './lib/validate';
import { DEFAULT_ROOM } from './protocol/types';

export function App() {
  const [name, setName] = useState<string | null>(() => {
    const stored = loadName();
    const r = stored === null ? null : checkName(stored);
    return r && r.ok ? r.name : null;
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
  return <ChatApp name={name} onRename={rename} />;
}

function ChatApp({ name, onRename }: { name: string; onRename(name: string): void }) {
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
  const [browsing, setBrowsing] = useState(false);
  const [editingId, setEditingId] = useState<string | null>(null);
  const [confirmDelete, setConfirmDelete] = useState<{ room: string; id: string } | null>(null);
  const [scrollMemory] = useState(() => new Map<string, ScrollPlace>());

  const current = state.rooms[room] ?? emptyRoom(room);
  const rooms = state.roomOrder.map((r) => state.rooms[r]).filter(Boolean);
  const nameRefused = state.fatal?.code === 'invalid_name';

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

  useEffect(() => setEditingId(null), [room]);

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
  useAttention(room, unread, mentioned);

  const notify = useNotifications(state.alerts, actions.alertsShown, openRoom);

  const { me, myIds } = state;
  const rows = useMemo(
    () =>
      buildTimeline({
        messages: current.messages,
        notices: current.notices,
        pending: current.pending,
        overlays: current.overlays,
        ops: current.ops,
        isMine: (u) => isMine({ me, myIds }, u),
        me,
      }),
    [current.messages, current.notices, current.pending, current.overlays, current.ops, me, myIds],
  );
  const loadOlder = useCallback(() => actions.loadOlder(room), [actions, room]);
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
  const members = useMemo(() => [...new Set(current.online.filter((u) => !isMine({ me, myIds }, u)).map((u) => u.name))], [current.online, me, myIds]);

  // A complete list counts people (one name with two tabs is one person); a large room's list
  // is partial and its member count is all there is.
  const onlineCount = isPartial(current) ? current.onlineCount : new Set(current.online.map((u) => u.name)).size;
  const invalid = route.invalid;

  return (
    <div className={`app${sidebarOpen ? ' sidebar-open' : ''}`}>
      <aside id="sidebar" className="sidebar" aria-label="Rooms and people" data-testid="sidebar">
        <div className="brand">
          <Logo size={30} />
          <span className="brand-name">distchat</span>
          <SettingsMenu settings={notify.settings} permission={notify.permission} onChange={notify.setSettings} onRequestPermission={notify.request} />
          <button type="button" className="icon-button sidebar-close" aria-label="Close sidebar" onClick={() => setSidebarOpen(false)}>
            <svg viewBox="0 0 16 16" width="14" height="14" aria-hidden="true">
              <path d="M4 4l8 8M12 4l-8 8" stroke="currentColor" strokeWidth="1.8" strokeLinecap="round" />
            </svg>
          </button>
        </div>
        <div className="sidebar-scroll">
          <RoomList rooms={rooms} current={invalid === null ? room : ''} onOpen={openRoom} onLeave={leaveRoom} onBrowse={() => setBrowsing(true)} />
          {invalid === null && <OnlineList users={current.online} total={current.onlineCount} myIds={state.myIds} stale={state.status !== 'online'} />}
        </div>
        <button type="button" className="me" onClick={() => setRenaming(true)} title="Change your display name" data-testid="me-button">
          <Avatar name={state.me?.name ?? name} />
          <span className="me-text">
            <span className="me-name" data-testid="me-name">
              {state.me?.name ?? name}
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
            {invalid === null ? (
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
            ) : (
              <h1 id="room-title" data-testid="room-title">
                Room not found
              </h1>
            )}
          </div>
          <StatusIndicator status={state.status} retryAt={state.retryAt} fatal={state.fatal !== null} />
        </header>

        {notify.offer && <NotificationBanner onEnable={notify.request} onDismiss={notify.dismissOffer} />}

        {invalid !== null ? (
          <InvalidRoom path={invalid} onOpen={openRoom} onBrowse={() => setBrowsing(true)} />
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
              myName={state.me?.name ?? name}
              editingId={editingId}
              onEditingChange={changeEditing}
              scrollMemory={scrollMemory}
            />
            <TypingIndicator typing={current.typing} />
            <Composer
              room={room}
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

      {browsing && <BrowseRooms joined={state.roomOrder} onOpen={openRoom} onClose={() => setBrowsing(false)} />}

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

      {(renaming || nameRefused) && (
        <NameDialog
          firstRun={false}
          initial={state.me?.name ?? name}
          serverError={nameRefused ? state.fatal?.message : null}
          onSubmit={(n) => {
            setRenaming(false);
            onRename(n);
          }}
          onCancel={nameRefused ? undefined : () => setRenaming(false)}
        />
      )}
    </div>
  );
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
