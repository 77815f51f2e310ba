import { useCallback, useEffect, useMemo, useState } from 'react';
import type { ChatState } from './chat/state';
import { emptyRoom, isMine, isPartial } from './chat/state';
import { buildTimeline } from './chat/timeline';
import { useChat } from './chat/useChat';
import { Avatar } from './components/Avatar';
import { Composer } from './components/Composer';
import { MessageList } from './components/MessageList';
import { Logo, NameDialog } from './components/NameDialog';
import { OnlineList } from './components/OnlineList';
import { RoomList } from './components/RoomList';
import { StatusIndicator, statusLabel, useNow } from './components/StatusIndicator';
import { Toasts } from './components/Toasts';
import { TypingIndicator } from './components/TypingIndicator';
import { loadName, loadRooms, saveName } from './lib/storage';
import { useRoomRoute } from './lib/useRoute';
import { checkName, isValidRoom } from './lib/validate';
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
  const [room, navigate] = useRoomRoute();
  // Everyone starts in #general besides the room in the URL; later visits restore the rooms.
  const [savedRooms] = useState(() => {
    const saved = loadRooms().filter(isValidRoom);
    return saved.length > 0 ? saved : [DEFAULT_ROOM];
  });
  const { state, actions } = useChat({ name, room, rooms: savedRooms });
  const [sidebarOpen, setSidebarOpen] = useState(false);
  const [renaming, setRenaming] = useState(false);

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

  // The tab title carries the room and the unread count of the others.
  const unread = rooms.reduce((n, r) => n + (r.name === room ? 0 : r.unread), 0);
  useEffect(() => {
    document.title = `${unread > 0 ? `(${unread}) ` : ''}#${room} · distchat`;
  }, [room, unread]);

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
  // A complete list counts people (one name with two tabs is one person); a large room's list
  // is partial and its member count is all there is.
  const onlineCount = isPartial(current) ? current.onlineCount : new Set(current.online.map((u) => u.name)).size;

  return (
    <div className={`app${sidebarOpen ? ' sidebar-open' : ''}`}>
      <aside id="sidebar" className="sidebar" aria-label="Rooms and people" data-testid="sidebar">
        <div className="brand">
          <Logo size={30} />
          <span className="brand-name">distchat</span>
          <button type="button" className="icon-button sidebar-close" aria-label="Close sidebar" onClick={() => setSidebarOpen(false)}>
            <svg viewBox="0 0 16 16" width="14" height="14" aria-hidden="true">
              <path d="M4 4l8 8M12 4l-8 8" stroke="currentColor" strokeWidth="1.8" strokeLinecap="round" />
            </svg>
          </button>
        </div>
        <div className="sidebar-scroll">
          <RoomList rooms={rooms} current={room} onOpen={openRoom} onLeave={leaveRoom} />
          <OnlineList users={current.online} total={current.onlineCount} myIds={state.myIds} stale={state.status !== 'online'} />
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
            {unread > 0 && <span className="toggle-dot" aria-hidden="true" />}
          </button>
          <div className="chat-title">
            <h1 id="room-title" data-testid="room-title">
              <span className="room-hash" aria-hidden="true">
                #
              </span>
              {room}
            </h1>
            <p className="chat-subtitle">
              {onlineCount} {onlineCount === 1 ? 'person' : 'people'} here
            </p>
          </div>
          <StatusIndicator status={state.status} retryAt={state.retryAt} fatal={state.fatal !== null} />
        </header>

        <MessageList
          key={room}
          room={room}
          rows={rows}
          hasMore={current.hasMore}
          loadingOlder={current.loadingOlder}
          loaded={current.loaded}
          onLoadOlder={loadOlder}
          onRetry={actions.retry}
          onDiscard={actions.discard}
        />
        <TypingIndicator typing={current.typing} />
        <Composer
          room={room}
          maxBytes={state.limits.max_body_bytes}
          disabled={state.status !== 'online'}
          reason={<DisabledReason state={state} onRetry={actions.reconnectNow} onRename={() => setRenaming(true)} />}
          onSend={(body) => actions.send(room, body)}
          onTyping={() => actions.typing(room)}
        />
      </main>

      <Toasts toasts={state.toasts} onDismiss={actions.dismissToast} />

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

/** Why the composer is disabled, or nothing when it is not. */
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
  if (state.status === 'connecting') return <span>Connecting to the server…</span>;
  const offline = state.status === 'offline';
  return (
    <>
      <span>
        {offline ? 'You are offline.' : 'Connection lost.'} {statusLabel('reconnecting', state.retryAt, now, false)}.
      </span>
      <button type="button" className="link-button" onClick={onRetry} data-testid="retry-now">
        Retry now
      </button>
    </>
  );
}
