import type { CSSProperties } from 'react';
import { memo, useCallback, useLayoutEffect, useMemo, useRef, useState } from 'react';
import type { MessageRow, Row } from '../chat/timeline';
import { nameHue } from '../lib/avatar';
import { formatDay, formatFull, formatTime, isoTime } from '../lib/time';
import { Avatar } from './Avatar';
import { MessageBody } from './MessageBody';

export interface MessageListProps {
  room: string;
  rows: Row[];
  hasMore: boolean;
  loadingOlder: boolean;
  /** The room's history has arrived at least once. */
  loaded: boolean;
  onLoadOlder(): void;
  onRetry(ref: string): void;
  onDiscard(ref: string): void;
}

/** Distance from the bottom, in pixels, that still counts as "at the bottom". */
const BOTTOM_SLACK = 48;
/** Distance from the top at which older messages are requested. */
const TOP_TRIGGER = 160;

export function MessageList({ room, rows, hasMore, loadingOlder, loaded, onLoadOlder, onRetry, onDiscard }: MessageListProps) {
  const scroller = useRef<HTMLDivElement>(null);
  const atBottom = useRef(true);
  const prev = useRef<{ first: string | null; last: string | null; height: number; top: number; count: number }>({ first: null, last: null, height: 0, top: 0, count: 0 });
  const [unseen, setUnseen] = useState(0);

  const messageRows = useMemo(() => rows.filter((r): r is MessageRow => r.kind === 'message'), [rows]);
  const firstKey = messageRows.length > 0 ? messageRows[0].key : null;
  const lastRow = messageRows.length > 0 ? messageRows[messageRows.length - 1] : null;
  const lastKey = lastRow?.key ?? null;

  const scrollToBottom = useCallback(() => {
    const el = scroller.current;
    if (!el) return;
    el.scrollTop = el.scrollHeight;
    atBottom.current = true;
    setUnseen(0);
  }, []);

  // After every change: keep the reader's place when older messages were prepended, follow new
  // ones when at the bottom, otherwise count them for the "new messages" pill.
  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const p = prev.current;
    if (p.first !== null && firstKey !== p.first && lastKey === p.last) {
      el.scrollTop = p.top + (el.scrollHeight - p.height);
    } else if (lastKey !== p.last) {
      const added = Math.max(1, messageRows.length - p.count);
      if (atBottom.current || p.last === null || lastRow?.own) {
        el.scrollTop = el.scrollHeight;
        atBottom.current = true;
        setUnseen(0);
      } else {
        setUnseen((n) => n + added);
      }
    } else if (atBottom.current) {
      // Same messages, other rows (a notice, a day separator, a failed state): stay pinned.
      el.scrollTop = el.scrollHeight;
    }
    prev.current = { first: firstKey, last: lastKey, height: el.scrollHeight, top: el.scrollTop, count: messageRows.length };
  }, [rows, firstKey, lastKey, lastRow, messageRows.length]);

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
    atBottom.current = bottom;
    if (bottom && unseen > 0) setUnseen(0);
    prev.current.top = el.scrollTop;
    prev.current.height = el.scrollHeight;
    if (el.scrollTop < TOP_TRIGGER && hasMore && !loadingOlder) onLoadOlder();
  };

  return (
    <div className="messages-wrap">
      <div
        className="messages"
        ref={scroller}
        onScroll={onScroll}
        role="log"
        aria-live="polite"
        aria-relevant="additions"
        aria-label={`Messages in #${room}`}
        data-testid="message-list"
        tabIndex={0}
      >
        <div className="messages-top">
          {hasMore || !loaded ? (
            <div className="history-loading" data-testid="history-loading">
              <span className="spinner" aria-hidden="true" /> Loading older messages…
            </div>
          ) : (
            <div className="room-start" data-testid="room-start">
              <div className="room-start-icon" aria-hidden="true">#</div>
              <h2>Welcome to #{room}</h2>
              <p>This is the very beginning of the #{room} room.</p>
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
              return (
                <div key={row.key} className={`notice notice-${row.notice.kind}`} data-testid="notice" data-kind={row.notice.kind}>
                  <span>
                    <strong>{row.notice.user.name}</strong> {row.notice.kind === 'join' ? 'joined' : 'left'}
                    <time dateTime={isoTime(row.notice.ts)} title={formatFull(row.notice.ts)}>
                      {formatTime(row.notice.ts)}
                    </time>
                  </span>
                </div>
              );
            case 'message':
              return <MessageItem key={row.key} row={row} onRetry={onRetry} onDiscard={onDiscard} />;
          }
        })}
      </div>
      {unseen > 0 && (
        <button type="button" className="new-pill" data-testid="new-messages" onClick={scrollToBottom}>
          {unseen === 1 ? '1 new message' : `${unseen} new messages`} <span aria-hidden="true">↓</span>
        </button>
      )}
    </div>
  );
}

type MessageItemProps = { row: MessageRow; onRetry(ref: string): void; onDiscard(ref: string): void };

/** Rows are rebuilt on every change; a message re-renders only when what it shows changed. */
function sameRow(a: MessageItemProps, b: MessageItemProps): boolean {
  const x = a.row;
  const y = b.row;
  return (
    a.onRetry === b.onRetry &&
    a.onDiscard === b.onDiscard &&
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
    x.from.name === y.from.name
  );
}

const MessageItem = memo(function MessageItem({ row, onRetry, onDiscard }: MessageItemProps) {
  const classes = ['msg', row.own ? 'msg-own' : 'msg-other', row.first ? 'msg-first' : '', row.last ? 'msg-last' : '', `msg-${row.status}`].filter(Boolean).join(' ');
  return (
    <div className={classes} data-testid="message" data-id={row.id ?? undefined} data-seq={row.seq ?? undefined} data-own={row.own ? 'true' : 'false'} data-status={row.status} data-author={row.from.name}>
      {!row.own && <div className="msg-avatar">{row.last ? <Avatar name={row.from.name} /> : null}</div>}
      <div className="msg-stack">
        {row.first && (
          <div className={`msg-author${row.own ? ' sr-only' : ''}`} style={{ '--hue': nameHue(row.from.name) } as CSSProperties} data-testid="message-author">
            {row.own ? 'You' : row.from.name}
          </div>
        )}
        <div className="bubble">
          <MessageBody body={row.body} />
          <span className="msg-meta">
            <time dateTime={isoTime(row.ts)} title={formatFull(row.ts)} data-testid="message-time">
              {formatTime(row.ts)}
            </time>
            {row.own && <DeliveryMark status={row.status} />}
          </span>
        </div>
        {row.status === 'failed' && row.ref && (
          <div className="msg-failed" role="alert" data-testid="message-failed">
            <span>Not sent{row.error ? `: ${row.error}` : ''}</span>
            <button type="button" className="link-button" onClick={() => onRetry(row.ref!)} data-testid="message-retry">
              Retry
            </button>
            <button type="button" className="link-button subtle" onClick={() => onDiscard(row.ref!)} data-testid="message-discard">
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
