import { useCallback, useEffect, useId, useMemo, useRef, useState } from 'react';
import { formatAgo } from '../lib/time';
import { normalizeRoomInput } from '../lib/validate';

/** A room as `GET /api/rooms` lists it. */
export interface RoomInfo {
  name: string;
  /** Members connected to this node. */
  members: number;
  topic?: string;
  /** Time of the last message, ms since the epoch. */
  last_activity?: number;
}

/** The rooms in an `/api/rooms` answer; entries without a usable name are skipped. */
export function parseRooms(json: unknown): RoomInfo[] {
  const list = (json as { rooms?: unknown } | null)?.rooms;
  if (!Array.isArray(list)) return [];
  const out: RoomInfo[] = [];
  for (const r of list) {
    if (!r || typeof r !== 'object' || typeof (r as RoomInfo).name !== 'string') continue;
    const x = r as Record<string, unknown>;
    out.push({
      name: x.name as string,
      members: typeof x.members === 'number' && x.members >= 0 ? x.members : 0,
      ...(typeof x.topic === 'string' && x.topic !== '' ? { topic: x.topic } : {}),
      ...(typeof x.last_activity === 'number' && x.last_activity > 0 ? { last_activity: x.last_activity } : {}),
    });
  }
  return out;
}

export async function fetchRooms(signal?: AbortSignal): Promise<RoomInfo[]> {
  // With the session cookie: a server that admits no guests lists its rooms only to people signed in.
  const res = await fetch('/api/rooms', { signal, credentials: 'same-origin', headers: { Accept: 'application/json' } });
  if (!res.ok) throw new Error(`The server answered ${res.status}.`);
  return parseRooms(await res.json());
}

/** Rooms matching what was typed: name or topic; exact name first, then busiest, then latest. */
export function filterRooms(rooms: RoomInfo[], query: string): RoomInfo[] {
  const q = query.trim().replace(/^#+/, '').toLowerCase();
  const slug = q.replace(/\s+/g, '-');
  const hits = q === '' ? rooms : rooms.filter((r) => r.name.includes(slug) || (r.topic ?? '').toLowerCase().includes(q));
  return [...hits].sort((a, b) => Number(b.name === slug) - Number(a.name === slug) || b.members - a.members || (b.last_activity ?? 0) - (a.last_activity ?? 0) || a.name.localeCompare(b.name));
}

export interface BrowseRoomsProps {
  /** Rooms the user is in already. */
  joined: string[];
  onOpen(room: string): void;
  onClose(): void;
  load?: (signal: AbortSignal) => Promise<RoomInfo[]>;
  /** Names with this prefix are not for rooms (the server's direct-message rooms). */
  reservedPrefix?: string;
}

/**
 * Find a room to join, or create one. Creating is its own step ("Create #name", or Enter twice
 * when nothing matches), so a typo does not silently make a new room; it is offered once the
 * list has loaded (or could not be), so that an existing room is never offered as new.
 */
export function BrowseRooms({ joined, onOpen, onClose, load = fetchRooms, reservedPrefix }: BrowseRoomsProps) {
  const [rooms, setRooms] = useState<RoomInfo[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [query, setQuery] = useState('');
  const [armed, setArmed] = useState(false);
  const [attempt, setAttempt] = useState(0);
  const input = useRef<HTMLInputElement>(null);
  const id = useId();

  useEffect(() => {
    const ctl = new AbortController();
    setError(null);
    load(ctl.signal).then(
      (r) => setRooms(r),
      (err: unknown) => {
        if (!ctl.signal.aborted) setError(err instanceof Error ? err.message : String(err));
      },
    );
    return () => ctl.abort();
  }, [load, attempt]);

  useEffect(() => {
    const prev = document.activeElement as HTMLElement | null;
    input.current?.focus();
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') {
        e.stopPropagation();
        onClose();
      }
    };
    window.addEventListener('keydown', onKey, true);
    return () => {
      window.removeEventListener('keydown', onKey, true);
      if (prev?.isConnected) prev.focus();
    };
  }, [onClose]);

  const all = useMemo(() => {
    // Rooms the user is in are listed even when this node has not heard of them.
    const known = new Map((rooms ?? []).map((r) => [r.name, r]));
    for (const name of joined) if (!known.has(name)) known.set(name, { name, members: 0 });
    return [...known.values()];
  }, [rooms, joined]);
  const shown = useMemo(() => filterRooms(all, query), [all, query]);
  const typed = query.trim() === '' ? null : normalizeRoomInput(query);
  const reserved = typed !== null && !!reservedPrefix && typed.startsWith(reservedPrefix);
  const candidate = reserved ? null : typed;
  const exists = candidate !== null && all.some((r) => r.name === candidate);
  const settled = rooms !== null || error !== null;
  const canCreate = candidate !== null && !exists && settled;
  const invalid = query.trim() !== '' && typed === null;

  const open = useCallback(
    (room: string) => {
      onClose();
      onOpen(room);
    },
    [onClose, onOpen],
  );

  return (
    <div className="overlay" onClick={(e) => e.target === e.currentTarget && onClose()}>
      <div className="dialog browse" role="dialog" aria-modal="true" aria-labelledby={`${id}-t`} data-testid="browse-dialog">
        <div className="browse-head">
          <h2 id={`${id}-t`} className="dialog-title">
            Browse rooms
          </h2>
          <button type="button" className="icon-button" aria-label="Close" onClick={onClose} data-testid="browse-close">
            <svg viewBox="0 0 16 16" width="14" height="14" aria-hidden="true">
              <path d="M4 4l8 8M12 4l-8 8" stroke="currentColor" strokeWidth="1.8" strokeLinecap="round" />
            </svg>
          </button>
        </div>
        <form
          noValidate
          onSubmit={(e) => {
            e.preventDefault();
            if (candidate && exists) open(candidate);
            else if (reserved) return;
            else if (shown.length > 0 && query.trim() !== '') open(shown[0].name);
            else if (canCreate) {
              if (armed) open(candidate);
              else setArmed(true);
            }
          }}
        >
          <label htmlFor={id} className="sr-only">
            Find or create a room
          </label>
          <div className="browse-search">
            <span className="room-hash" aria-hidden="true">
              #
            </span>
            <input
              id={id}
              ref={input}
              value={query}
              onChange={(e) => {
                setQuery(e.target.value);
                setArmed(false);
              }}
              placeholder="Find or name a room"
              autoComplete="off"
              spellCheck={false}
              maxLength={80}
              aria-invalid={invalid || reserved || undefined}
              aria-describedby={`${id}-help`}
              data-testid="room-input"
            />
          </div>
          <p id={`${id}-help`} className={invalid || reserved ? 'field-error' : 'field-help'} data-testid={invalid || reserved ? 'room-error' : 'room-help'} aria-live="polite">
            {invalid
              ? 'Room names use 1–64 lowercase letters, digits, - or _.'
              : reserved
                ? `Names starting with ${reservedPrefix} are kept for direct messages. To write to someone privately, open their name in the online list.`
                : armed && canCreate
                ? `No room is called #${candidate}. Press Enter again to create it.`
                : 'Rooms with messages or people in them. Click one to join.'}
          </p>
        </form>
        {canCreate && (
          <button type="button" className={`browse-create${armed ? ' armed' : ''}`} onClick={() => open(candidate)} data-testid="room-create">
            <span className="browse-create-icon" aria-hidden="true">
              +
            </span>
            Create <strong>#{candidate}</strong>
          </button>
        )}
        <div className="browse-list" aria-busy={rooms === null && !error}>
          {error ? (
            <div className="browse-empty" role="alert">
              Could not load the rooms: {error}{' '}
              <button type="button" className="link-button" onClick={() => setAttempt((n) => n + 1)}>
                Try again
              </button>
            </div>
          ) : rooms === null ? (
            <div className="browse-empty">
              <span className="spinner" aria-hidden="true" /> Loading rooms…
            </div>
          ) : shown.length === 0 ? (
            <div className="browse-empty">No rooms match.</div>
          ) : (
            <ul aria-label="Rooms">
              {shown.map((r) => (
                <li key={r.name}>
                  <button type="button" className="browse-room" onClick={() => open(r.name)} data-testid="browse-room" data-room={r.name}>
                    <span className="browse-room-top">
                      <span className="browse-room-name">
                        <span className="room-hash" aria-hidden="true">
                          #
                        </span>
                        {r.name}
                      </span>
                      {joined.includes(r.name) && <span className="you-tag">joined</span>}
                      <span className="browse-room-meta">
                        {r.members === 1 ? '1 member' : `${r.members} members`}
                        {r.last_activity ? ` · active ${formatAgo(r.last_activity)}` : ''}
                      </span>
                    </span>
                    {r.topic && (
                      <span className="browse-room-topic" dir="auto">
                        {r.topic}
                      </span>
                    )}
                  </button>
                </li>
              ))}
            </ul>
          )}
        </div>
      </div>
    </div>
  );
}
