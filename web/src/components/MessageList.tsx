import type { CSSProperties, KeyboardEvent as ReactKeyboardEvent } from 'react';
import { memo, useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from 'react';
import type { MessageRow, Row } from '../chat/timeline';
import { nameHue } from '../lib/avatar';
import type { User } from '../protocol/types';
import { formatDay, formatFull, formatTime, isoTime } from '../lib/time';
import { Avatar } from './Avatar';
import { copyText } from './CodeBlock';
import { EmojiPicker } from './EmojiPicker';
import type { MenuItem } from './Menu';
import { Menu } from './Menu';
import { MessageBody } from './MessageBody';
import { MessageEditor } from './MessageEditor';
import type { Anchor } from './Popover';
import { anchorOf } from './Popover';

/** What a reader can do to messages; ids are message ids, refs pending messages' refs. */
export interface MessageActions {
  react(id: string, emoji: string, on: boolean): void;
  edit(id: string, body: string): void;
  /** Asks before deleting. */
  requestDelete(id: string): void;
  retry(ref: string): void;
  discard(ref: string): void;
}

/** Where a reader was in a room, to come back to it. */
export interface ScrollPlace {
  top: number;
  atBottom: boolean;
}

export interface MessageListProps {
  room: string;
  rows: Row[];
  hasMore: boolean;
  loadingOlder: boolean;
  /** The room's history has arrived at least once. */
  loaded: boolean;
  onLoadOlder(): void;
  actions: MessageActions;
  /** The user's display name, for highlighting mentions. */
  myName?: string | null;
  /** The message being edited (by id), or null. */
  editingId?: string | null;
  onEditingChange?(id: string | null): void;
  /** Scroll positions by room, kept by the parent across room switches. */
  scrollMemory?: Map<string, ScrollPlace>;
  /** How the room is named to people: "#general", or the other person of a direct message. */
  title?: string;
  /** A direct-message room: its start says whom it is with. */
  dm?: boolean;
  /**
   * Opens the menu of a message's author (direct message, …); without it author names are
   * plain text.
   */
  onPerson?(user: User, anchor: Anchor, trigger: HTMLElement | null): void;
  /** The newest message is in view (the list is at the bottom): the room is read up to it. */
  onSeen?(): void;
}

/**
 * Scrolls the "New messages" divider near the top of the view when the unread messages below
 * it do not fit (Slack opens a channel there); returns false when they fit and the bottom
 * shows them all.
 */
function showDivider(el: HTMLElement, divider: HTMLElement): boolean {
  const y = divider.getBoundingClientRect().top - el.getBoundingClientRect().top + el.scrollTop;
  if (el.scrollHeight - y <= el.clientHeight) return false;
  el.scrollTop = Math.max(0, y - 16);
  return true;
}

/** Distance from the bottom, in pixels, that still counts as "at the bottom". */
const BOTTOM_SLACK = 48;
/** Distance from the top at which older messages are requested. */
const TOP_TRIGGER = 160;
/** How long a touch must rest on a message to open its menu. */
const LONG_PRESS_MS = 480;

type Popup = { kind: 'menu' | 'picker'; row: MessageRow; anchor: Anchor; trigger: HTMLElement | null };

export function MessageList({
  room,
  rows,
  hasMore,
  loadingOlder,
  loaded,
  onLoadOlder,
  actions,
  myName = null,
  editingId = null,
  onEditingChange,
  scrollMemory,
  title = `#${room}`,
  dm = false,
  onPerson,
  onSeen,
}: MessageListProps) {
  const scroller = useRef<HTMLDivElement>(null);
  const atBottomRef = useRef(true);
  const [atBottom, setAtBottom] = useState(true);
  const prev = useRef<{ first: string | null; last: string | null; height: number; top: number; count: number; divider: boolean }>({ first: null, last: null, height: 0, top: 0, count: 0, divider: false });
  /** The reader scrolled by hand since the room opened: a divider that shows up later does not move them. */
  const userScrolled = useRef(false);
  const [unseen, setUnseen] = useState(0);
  const [active, setActive] = useState<string | null>(null);
  const [popup, setPopup] = useState<Popup | null>(null);
  const [announcement, setAnnouncement] = useState('');

  const messageRows = useMemo(() => rows.filter((r): r is MessageRow => r.kind === 'message'), [rows]);
  const firstKey = messageRows.length > 0 ? messageRows[0].key : null;
  const lastRow = messageRows.length > 0 ? messageRows[messageRows.length - 1] : null;
  const lastKey = lastRow?.key ?? null;

  const markBottom = useCallback(
    (bottom: boolean) => {
      atBottomRef.current = bottom;
      setAtBottom(bottom);
      const el = scroller.current;
      if (el && scrollMemory) scrollMemory.set(room, { top: el.scrollTop, atBottom: bottom });
    },
    [room, scrollMemory],
  );

  const scrollToBottom = useCallback(() => {
    const el = scroller.current;
    if (!el) return;
    el.scrollTop = el.scrollHeight;
    markBottom(true);
    setUnseen(0);
  }, [markBottom]);

  // After every change: keep the reader's place when older messages were prepended, follow new
  // ones when at the bottom, otherwise count them for the "new messages" button. The first
  // layout of a room returns to where the reader left it.
  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const p = prev.current;
    const divider = el.querySelector<HTMLElement>('[data-testid="new-divider"]');
    if (p.last === null && lastKey !== null) {
      const saved = scrollMemory?.get(room);
      if (saved && !saved.atBottom) {
        el.scrollTop = saved.top;
        atBottomRef.current = false;
        setAtBottom(false);
      } else if (divider && showDivider(el, divider)) {
        atBottomRef.current = false;
        setAtBottom(false);
      } else {
        el.scrollTop = el.scrollHeight;
        atBottomRef.current = true;
      }
    } else if (divider && !p.divider && !userScrolled.current && showDivider(el, divider)) {
      // The read position arrived after the messages (a reload): start at the first unread one.
      atBottomRef.current = false;
      setAtBottom(false);
    } else if (p.first !== null && firstKey !== p.first && lastKey === p.last) {
      el.scrollTop = p.top + (el.scrollHeight - p.height);
    } else if (lastKey !== p.last) {
      const added = Math.max(1, messageRows.length - p.count);
      if (lastRow && !lastRow.own) setAnnouncement(announce(lastRow, added));
      if (atBottomRef.current || lastRow?.own) {
        el.scrollTop = el.scrollHeight;
        atBottomRef.current = true;
        setAtBottom(true);
        setUnseen(0);
      } else {
        setUnseen((n) => n + added);
      }
    } else if (atBottomRef.current) {
      // Same messages, other rows (a notice, an edit, a reaction): stay pinned.
      el.scrollTop = el.scrollHeight;
    }
    prev.current = { first: firstKey, last: lastKey, height: el.scrollHeight, top: el.scrollTop, count: messageRows.length, divider: !!divider };
  }, [rows, firstKey, lastKey, lastRow, messageRows.length, room, scrollMemory]);

  // At the bottom, the newest message has been seen (the parent knows whether the tab is
  // visible); an empty room has been seen too. The ref, not the state: the layout above may
  // have just moved away from the bottom (to the "New messages" divider) in this very commit.
  useEffect(() => {
    if (atBottomRef.current && loaded) onSeen?.();
  }, [atBottom, loaded, lastKey, onSeen]);

  // The view or its content changes size without new rows (a banner above, the composer
  // growing, a font or code block settling): a reader at the bottom stays there.
  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el || typeof ResizeObserver === 'undefined') return;
    const pin = () => {
      if (atBottomRef.current) el.scrollTop = el.scrollHeight;
    };
    const ro = new ResizeObserver(pin);
    ro.observe(el);
    const inner = el.querySelector('.messages-inner');
    if (inner) ro.observe(inner);
    return () => ro.disconnect();
  }, []);

  // A short history does not fill the view, so no scroll can ask for more: ask now.
  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el || !hasMore || loadingOlder || !loaded) return;
    if (el.scrollHeight <= el.clientHeight + TOP_TRIGGER && el.clientHeight > 0) onLoadOlder();
  }, [rows, hasMore, loadingOlder, loaded, onLoadOlder]);

  const onScroll = () => {
    const el = scroller.current;
    if (!el) return;
    const bottom = el.scrollHeight - el.scrollTop - el.clientHeight <= BOTTOM_SLACK;
    if (Math.abs(el.scrollTop - prev.current.top) > 2 && el.scrollHeight === prev.current.height) userScrolled.current = true;
    if (bottom !== atBottomRef.current) markBottom(bottom);
    else scrollMemory?.set(room, { top: el.scrollTop, atBottom: bottom });
    if (bottom && unseen > 0) setUnseen(0);
    prev.current.top = el.scrollTop;
    prev.current.height = el.scrollHeight;
    if (el.scrollTop < TOP_TRIGGER && hasMore && !loadingOlder) onLoadOlder();
  };

  // Arrow keys walk the messages (a roving focus: only the focused message's actions are in the
  // tab order, so Tab does not stop at every button of every message).
  const onKeyDown = (e: ReactKeyboardEvent<HTMLDivElement>) => {
    if (e.key !== 'ArrowUp' && e.key !== 'ArrowDown') return;
    const target = e.target as HTMLElement;
    if (target !== scroller.current && target.dataset.testid !== 'message') return;
    const items = [...(scroller.current?.querySelectorAll<HTMLElement>('[data-testid="message"]') ?? [])];
    if (items.length === 0) return;
    const i = items.indexOf(target);
    const next = i === -1 ? (e.key === 'ArrowUp' ? items.length - 1 : 0) : Math.max(0, Math.min(items.length - 1, i + (e.key === 'ArrowUp' ? -1 : 1)));
    e.preventDefault();
    items[next].focus();
  };

  const closePopup = useCallback(() => {
    setPopup((p) => {
      if (p?.trigger?.isConnected) p.trigger.focus();
      return null;
    });
  }, []);

  const openMenu = useCallback((row: MessageRow, anchor: Anchor, trigger: HTMLElement | null) => setPopup({ kind: 'menu', row, anchor, trigger }), []);
  const openPicker = useCallback((row: MessageRow, anchor: Anchor, trigger: HTMLElement | null) => setPopup({ kind: 'picker', row, anchor, trigger }), []);
  const startEdit = useCallback((id: string | null) => onEditingChange?.(id), [onEditingChange]);

  return (
    <div className="messages-wrap">
      <div
        className="messages"
        ref={scroller}
        onScroll={onScroll}
        onKeyDown={onKeyDown}
        role="log"
        aria-live="off"
        aria-label={dm ? `Messages with ${title}` : `Messages in ${title}`}
        data-testid="message-list"
        tabIndex={0}
      >
        <div className="messages-inner">
          <div className="messages-top">
            {hasMore || !loaded ? (
              <div className="history-loading" data-testid="history-loading">
                <span className="spinner" aria-hidden="true" /> Loading older messages…
              </div>
            ) : (
              <div className="room-start" data-testid="room-start">
                <div className="room-start-icon" aria-hidden="true">
                  {dm ? '@' : '#'}
                </div>
                {dm ? (
                  <>
                    <h2>{title}</h2>
                    <p>This is the very beginning of your direct messages with {title}. Only the two of you can see them.</p>
                  </>
                ) : (
                  <>
                    <h2>Welcome to {title}</h2>
                    <p>This is the very beginning of the {title} room.</p>
                  </>
                )}
              </div>
            )}
          </div>
          {rows.map((row) => {
            switch (row.kind) {
              case 'day':
                return (
                  <div key={row.key} className="day-separator" role="separator">
                    <span>{formatDay(row.ts)}</span>
                  </div>
                );
              case 'notice':
                return <NoticeRow key={row.key} row={row} />;
              case 'divider':
                return (
                  <div key={row.key} className="new-divider" role="separator" aria-label="New messages" data-testid="new-divider">
                    <span>New messages</span>
                  </div>
                );
              case 'message':
                return (
                  <MessageItem
                    key={row.key}
                    row={row}
                    actions={actions}
                    myName={myName}
                    editing={row.id !== null && row.id === editingId}
                    active={active === row.key}
                    menuOpen={popup?.row.key === row.key}
                    onActive={setActive}
                    onStartEdit={startEdit}
                    onOpenMenu={openMenu}
                    onOpenPicker={openPicker}
                    onPerson={onPerson}
                  />
                );
            }
          })}
        </div>
      </div>
      {/* New messages are announced here, briefly, rather than by the log itself: its rows
          carry toolbars and times that would be read out with every message. */}
      <div className="sr-only" role="status" aria-live="polite" aria-atomic="true" data-testid="announcer">
        {announcement}
      </div>
      {!atBottom && (
        <button type="button" className={`jump-latest${unseen > 0 ? ' has-new' : ''}`} data-testid="jump-latest" onClick={scrollToBottom}>
          {unseen > 0 ? (unseen === 1 ? '1 new message' : `${unseen} new messages`) : 'Jump to latest'} <span aria-hidden="true">↓</span>
        </button>
      )}
      {popup?.kind === 'menu' && <Menu anchor={popup.anchor} label="Message actions" items={menuItems(popup.row, actions, startEdit, (r, a, t) => setPopup({ kind: 'picker', row: r, anchor: a, trigger: t }), popup.trigger)} onClose={closePopup} />}
      {popup?.kind === 'picker' && popup.row.id && (
        <EmojiPicker
          anchor={popup.anchor}
          existing={popup.row.reactions.map((r) => r.emoji)}
          mine={popup.row.reactions.filter((r) => r.mine).map((r) => r.emoji)}
          onPick={(emoji) => actions.react(popup.row.id!, emoji, !popup.row.reactions.some((r) => r.emoji === emoji && r.mine))}
          onClose={closePopup}
        />
      )}
    </div>
  );
}

/** What a screen reader hears for new messages: who, and the start of what they wrote. */
export function announce(row: MessageRow, count: number): string {
  const text = row.deleted ? 'deleted message' : row.body.replace(/\s+/g, ' ').trim();
  const short = text.length > 140 ? `${text.slice(0, 139)}…` : text;
  const latest = `${row.author.label}${row.mention ? ' mentioned you' : ''}: ${short}`;
  return count > 1 ? `${count} new messages. Latest from ${latest}` : latest;
}

function menuItems(row: MessageRow, actions: MessageActions, startEdit: (id: string | null) => void, openPicker: (row: MessageRow, anchor: Anchor, trigger: HTMLElement | null) => void, trigger: HTMLElement | null): MenuItem[] {
  const id = row.id;
  if (!id) return [];
  const items: MenuItem[] = [
    { key: 'react', label: 'Add reaction', icon: <SmileIcon />, onSelect: () => setTimeout(() => openPicker(row, anchorOf(trigger), trigger)) },
  ];
  if (canChange(row)) {
    items.push({ key: 'edit', label: 'Edit message', icon: <PencilIcon />, onSelect: () => startEdit(id) });
  }
  items.push({ key: 'copy', label: 'Copy text', icon: <CopyIcon />, onSelect: () => void copyText(row.body) });
  if (canChange(row)) {
    items.push({ key: 'delete', label: 'Delete message', icon: <TrashIcon />, danger: true, onSelect: () => actions.requestDelete(id) });
  }
  return items;
}

/** Only the author changes a message, once it is stored, and not after it was deleted. */
export function canChange(row: MessageRow): boolean {
  return row.own && row.id !== null && row.status === 'sent' && !row.deleted;
}

function NoticeRow({ row }: { row: Extract<Row, { kind: 'notice' }> }) {
  const n = row.notice;
  if (n.kind === 'rename') {
    // As it happened: a later rename does not rewrite this one.
    return (
      <div className="notice notice-rename" data-testid="notice" data-kind="rename">
        <span>
          <strong>{n.old || 'Someone'}</strong> is now <strong>{n.user.name}</strong>
          <time dateTime={isoTime(n.ts)} title={formatFull(n.ts)}>
            {formatTime(n.ts)}
          </time>
        </span>
      </div>
    );
  }
  return (
    <div className={`notice notice-${n.kind}`} data-testid="notice" data-kind={n.kind}>
      <span>
        <strong>{row.label}</strong>{' '}
        {n.kind === 'join' ? (
          'joined'
        ) : n.kind === 'leave' ? (
          'left'
        ) : n.body ? (
          <>
            set the topic: <q dir="auto">{n.body}</q>
          </>
        ) : (
          'cleared the topic'
        )}
        <time dateTime={isoTime(n.ts)} title={formatFull(n.ts)}>
          {formatTime(n.ts)}
        </time>
      </span>
    </div>
  );
}

type MessageItemProps = {
  row: MessageRow;
  actions: MessageActions;
  myName: string | null;
  editing: boolean;
  /** Has the keyboard focus: its actions are in the tab order. */
  active: boolean;
  menuOpen: boolean;
  onActive(key: string | null): void;
  onStartEdit(id: string | null): void;
  onOpenMenu(row: MessageRow, anchor: Anchor, trigger: HTMLElement | null): void;
  onOpenPicker(row: MessageRow, anchor: Anchor, trigger: HTMLElement | null): void;
  onPerson?(user: User, anchor: Anchor, trigger: HTMLElement | null): void;
};

/** Rows are rebuilt on every change; a message re-renders only when what it shows changed. */
function sameRow(a: MessageItemProps, b: MessageItemProps): boolean {
  const x = a.row;
  const y = b.row;
  return (
    a.actions === b.actions &&
    a.myName === b.myName &&
    a.editing === b.editing &&
    a.active === b.active &&
    a.menuOpen === b.menuOpen &&
    a.onStartEdit === b.onStartEdit &&
    a.onPerson === b.onPerson &&
    x.key === y.key &&
    x.id === y.id &&
    x.seq === y.seq &&
    x.body === y.body &&
    x.ts === y.ts &&
    x.own === y.own &&
    x.first === y.first &&
    x.last === y.last &&
    x.status === y.status &&
    x.error === y.error &&
    x.edited === y.edited &&
    x.deleted === y.deleted &&
    x.changing === y.changing &&
    x.mention === y.mention &&
    sameReactions(x, y) &&
    x.from.id === y.from.id &&
    x.from.name === y.from.name &&
    x.author.label === y.author.label &&
    x.author.name === y.author.name &&
    x.author.was === y.author.was &&
    x.author.color === y.author.color
  );
}

function sameReactions(x: MessageRow, y: MessageRow): boolean {
  if (x.reactions.length !== y.reactions.length) return false;
  return x.reactions.every((r, i) => {
    const s = y.reactions[i];
    return r.emoji === s.emoji && r.count === s.count && r.mine === s.mine && r.names.join('\n') === s.names.join('\n');
  });
}

/** "Robert (was Bob)": the name a message was sent under, when the person has another one now. */
function authorTitle(row: MessageRow): string | undefined {
  return row.author.was ? `${row.author.label} (was ${row.author.was})` : undefined;
}

function reactionTitle(names: string[], emoji: string): string {
  const shown = names.length > 10 ? [...names.slice(0, 10), `${names.length - 10} more`] : names;
  const who = shown.length <= 1 ? shown.join('') : `${shown.slice(0, -1).join(', ')} and ${shown[shown.length - 1]}`;
  return `${who} reacted with ${emoji}`;
}

const MessageItem = memo(function MessageItem({ row, actions, myName, editing, active, menuOpen, onActive, onStartEdit, onOpenMenu, onOpenPicker, onPerson }: MessageItemProps) {
  const [touched, setTouched] = useState(false);
  const press = useRef<{ timer: ReturnType<typeof setTimeout>; x: number; y: number; fired: boolean } | null>(null);
  const bubble = useRef<HTMLDivElement>(null);
  const more = useRef<HTMLButtonElement>(null);

  const interactive = row.id !== null && row.status === 'sent' && !row.deleted;
  const changeable = canChange(row);
  const tab = active ? 0 : -1;
  const classes = [
    'msg',
    row.own ? 'msg-own' : 'msg-other',
    row.first ? 'msg-first' : '',
    row.last ? 'msg-last' : '',
    `msg-${row.status}`,
    row.deleted ? 'msg-deleted' : '',
    row.mention ? 'msg-mention' : '',
    touched || menuOpen ? 'msg-touched' : '',
    editing ? 'msg-editing' : '',
  ]
    .filter(Boolean)
    .join(' ');

  const cancelPress = () => {
    if (press.current) clearTimeout(press.current.timer);
  };

  return (
    <div
      className={classes}
      data-testid="message"
      data-id={row.id ?? undefined}
      data-seq={row.seq ?? undefined}
      data-own={row.own ? 'true' : 'false'}
      data-status={row.status}
      data-author={row.author.label}
      data-author-id={row.from.id}
      data-edited={row.edited ? 'true' : undefined}
      data-deleted={row.deleted ? 'true' : undefined}
      data-mention={row.mention ? 'true' : undefined}
      tabIndex={-1}
      onFocus={() => onActive(row.key)}
      onKeyDown={(e) => {
        // The context-menu key or Shift+F10 opens the actions, as elsewhere on the desktop.
        if (interactive && e.target === e.currentTarget && (e.key === 'ContextMenu' || (e.shiftKey && e.key === 'F10'))) {
          e.preventDefault();
          onOpenMenu(row, anchorOf(bubble.current), e.currentTarget);
        }
      }}
    >
      {!row.own && (
        <div className="msg-avatar">
          {row.first ? (
            onPerson ? (
              <button type="button" className="avatar-button" tabIndex={-1} aria-hidden="true" onClick={(e) => onPerson(row.from, anchorOf(e.currentTarget), e.currentTarget)}>
                <Avatar name={row.author.name} color={row.author.color} />
              </button>
            ) : (
              <Avatar name={row.author.name} color={row.author.color} />
            )
          ) : null}
        </div>
      )}
      <div className="msg-stack">
        {row.first && (
          <div className="msg-header">
            {!row.own && onPerson ? (
              <button
                type="button"
                className="msg-author author-button"
                style={{ '--hue': nameHue(row.author.color) } as CSSProperties}
                tabIndex={tab}
                aria-haspopup="menu"
                title={authorTitle(row)}
                onClick={(e) => onPerson(row.from, anchorOf(e.currentTarget), e.currentTarget)}
                data-testid="message-author"
              >
                {row.author.label}
              </button>
            ) : (
              <span className={`msg-author${row.own ? ' sr-only' : ''}`} style={{ '--hue': nameHue(row.author.color) } as CSSProperties} title={row.own ? undefined : authorTitle(row)} data-testid="message-author">
                {row.own ? 'You' : row.author.label}
              </span>
            )}
            <time dateTime={isoTime(row.ts)} title={formatFull(row.ts)} data-testid="message-time">
              {formatTime(row.ts)}
            </time>
          </div>
        )}
        <div className="msg-line">
          <div
            ref={bubble}
            className="bubble"
            onTouchStart={(e) => {
              if (!interactive || editing) return;
              const t = e.touches[0];
              cancelPress();
              press.current = {
                x: t.clientX,
                y: t.clientY,
                fired: false,
                timer: setTimeout(() => {
                  if (press.current) press.current.fired = true;
                  navigator.vibrate?.(10);
                  onOpenMenu(row, anchorOf(bubble.current), more.current);
                }, LONG_PRESS_MS),
              };
            }}
            onTouchMove={(e) => {
              const p = press.current;
              const t = e.touches[0];
              if (p && (Math.abs(t.clientX - p.x) > 10 || Math.abs(t.clientY - p.y) > 10)) cancelPress();
            }}
            onTouchEnd={cancelPress}
            onTouchCancel={cancelPress}
            onContextMenu={(e) => {
              if (press.current?.fired) e.preventDefault();
            }}
            onClick={(e) => {
              // On touch screens a tap shows the message's "…" button.
              if (!interactive || (e.target as HTMLElement).closest('a, button, pre')) return;
              if (window.matchMedia?.('(hover: none)').matches) setTouched((t) => !t);
            }}
          >
            {row.deleted ? (
              <div className="msg-tombstone" data-testid="message-deleted">
                This message was deleted
              </div>
            ) : editing && row.id ? (
              <MessageEditor
                initial={row.body}
                onSave={(body) => {
                  onStartEdit(null);
                  if (body !== row.body) actions.edit(row.id!, body);
                }}
                onCancel={() => onStartEdit(null)}
                onDelete={() => {
                  onStartEdit(null);
                  actions.requestDelete(row.id!);
                }}
              />
            ) : (
              <MessageBody body={row.body} mentionName={myName} />
            )}
            {!editing && !row.deleted && (row.edited || row.own) && (
              <span className="msg-meta">
                {row.edited && (
                  <span className="msg-edited" data-testid="message-edited">
                    (edited)
                  </span>
                )}
                {row.own && <DeliveryMark status={row.changing ? 'pending' : row.status} />}
              </span>
            )}
          </div>
          {interactive && !editing && (
            <div className="msg-actions" role="toolbar" aria-label="Message actions" aria-orientation="horizontal">
              <time className="msg-hover-time" dateTime={isoTime(row.ts)} title={formatFull(row.ts)}>
                {formatTime(row.ts)}
              </time>
              <button type="button" className="msg-action quick" tabIndex={tab} aria-label="Add reaction" title="Add reaction" onClick={(e) => onOpenPicker(row, anchorOf(e.currentTarget), e.currentTarget)} data-testid="action-react">
                <SmileIcon />
              </button>
              {changeable && (
                <button type="button" className="msg-action quick" tabIndex={tab} aria-label="Edit message" title="Edit" onClick={() => onStartEdit(row.id)} data-testid="action-edit">
                  <PencilIcon />
                </button>
              )}
              {changeable && (
                <button type="button" className="msg-action quick" tabIndex={tab} aria-label="Delete message" title="Delete" onClick={() => actions.requestDelete(row.id!)} data-testid="action-delete">
                  <TrashIcon />
                </button>
              )}
              <button
                ref={more}
                type="button"
                className="msg-action"
                tabIndex={tab}
                aria-label="More actions"
                aria-haspopup="menu"
                aria-expanded={menuOpen}
                title="More"
                onClick={(e) => onOpenMenu(row, anchorOf(e.currentTarget), e.currentTarget)}
                data-testid="action-more"
              >
                <DotsIcon />
              </button>
            </div>
          )}
        </div>
        {!row.deleted && row.reactions.length > 0 && row.id && (
          <div className="reactions" data-testid="reactions">
            {row.reactions.map((r) => (
              <button
                key={r.emoji}
                type="button"
                className={`reaction${r.mine ? ' mine' : ''}`}
                aria-pressed={r.mine}
                aria-label={`${r.emoji} ${r.count}: ${reactionTitle(r.names, r.emoji)}. ${r.mine ? 'Remove your reaction' : 'Add your reaction'}`}
                title={reactionTitle(r.names, r.emoji)}
                onClick={() => actions.react(row.id!, r.emoji, !r.mine)}
                data-testid="reaction"
                data-emoji={r.emoji}
              >
                <span className="reaction-emoji">{r.emoji}</span>
                <span className="reaction-count">{r.count}</span>
              </button>
            ))}
            <button type="button" className="reaction reaction-add" aria-label="Add reaction" title="Add reaction" onClick={(e) => onOpenPicker(row, anchorOf(e.currentTarget), e.currentTarget)} data-testid="reaction-add">
              <SmileIcon />
            </button>
          </div>
        )}
        {row.status === 'failed' && row.ref && (
          <div className="msg-failed" role="alert" data-testid="message-failed">
            <span>Not sent{row.error ? `: ${row.error}` : ''}</span>
            <button type="button" className="link-button" onClick={() => actions.retry(row.ref!)} data-testid="message-retry">
              Retry
            </button>
            <button type="button" className="link-button subtle" onClick={() => actions.discard(row.ref!)} data-testid="message-discard">
              Discard
            </button>
          </div>
        )}
      </div>
    </div>
  );
}, sameRow);

function DeliveryMark({ status }: { status: MessageRow['status'] }) {
  if (status === 'pending') {
    return (
      <span className="delivery delivery-pending" title="Sending…" aria-label="Sending">
        <svg viewBox="0 0 16 16" width="12" height="12" aria-hidden="true">
          <circle cx="8" cy="8" r="6.25" fill="none" stroke="currentColor" strokeWidth="1.5" />
          <path d="M8 4.5V8l2.25 1.5" fill="none" stroke="currentColor" strokeWidth="1.5" strokeLinecap="round" />
        </svg>
      </span>
    );
  }
  if (status === 'failed') {
    return (
      <span className="delivery delivery-failed" title="Not sent" aria-label="Not sent">
        !
      </span>
    );
  }
  return (
    <span className="delivery delivery-sent" title="Sent" aria-label="Sent">
      <svg viewBox="0 0 16 16" width="13" height="13" aria-hidden="true">
        <path d="M3 8.5l3.2 3L13 4.5" fill="none" stroke="currentColor" strokeWidth="1.8" strokeLinecap="round" strokeLinejoin="round" />
      </svg>
    </span>
  );
}

function SmileIcon() {
  return (
    <svg viewBox="0 0 20 20" width="16" height="16" aria-hidden="true">
      <circle cx="9" cy="10" r="6.5" fill="none" stroke="currentColor" strokeWidth="1.5" />
      <circle cx="6.8" cy="8.6" r="0.9" fill="currentColor" />
      <circle cx="11.2" cy="8.6" r="0.9" fill="currentColor" />
      <path d="M6.3 11.6c1.4 1.6 4 1.6 5.4 0" fill="none" stroke="currentColor" strokeWidth="1.4" strokeLinecap="round" />
      <path d="M16.5 2.5v4M14.5 4.5h4" stroke="currentColor" strokeWidth="1.5" strokeLinecap="round" />
    </svg>
  );
}

function PencilIcon() {
  return (
    <svg viewBox="0 0 16 16" width="15" height="15" aria-hidden="true">
      <path d="M10.5 2.5l3 3L6 13H3v-3z" fill="none" stroke="currentColor" strokeWidth="1.5" strokeLinejoin="round" />
    </svg>
  );
}

function TrashIcon() {
  return (
    <svg viewBox="0 0 16 16" width="15" height="15" aria-hidden="true">
      <path d="M3 4.5h10M6.5 4.5V3h3v1.5M4.5 4.5l.6 8.5h5.8l.6-8.5" fill="none" stroke="currentColor" strokeWidth="1.4" strokeLinejoin="round" strokeLinecap="round" />
    </svg>
  );
}

function CopyIcon() {
  return (
    <svg viewBox="0 0 16 16" width="15" height="15" aria-hidden="true">
      <rect x="5" y="5" width="8" height="9" rx="1.5" fill="none" stroke="currentColor" strokeWidth="1.4" />
      <path d="M3 11V3.5A1.5 1.5 0 0 1 4.5 2H10" fill="none" stroke="currentColor" strokeWidth="1.4" strokeLinecap="round" />
    </svg>
  );
}

function DotsIcon() {
  return (
    <svg viewBox="0 0 16 16" width="16" height="16" aria-hidden="true">
      <circle cx="3.5" cy="8" r="1.4" fill="currentColor" />
      <circle cx="8" cy="8" r="1.4" fill="currentColor" />
      <circle cx="12.5" cy="8" r="1.4" fill="currentColor" />
    </svg>
  );
}
