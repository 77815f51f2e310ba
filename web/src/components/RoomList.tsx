import { useId, useState } from 'react';
import type { RoomState } from '../chat/state';
import { pathForRoom } from '../lib/useRoute';
import { normalizeRoomInput } from '../lib/validate';
import { DEFAULT_ROOM } from '../protocol/types';

export interface RoomListProps {
  rooms: RoomState[];
  current: string;
  onOpen(room: string): void;
  onLeave(room: string): void;
}

export function RoomList({ rooms, current, onOpen, onLeave }: RoomListProps) {
  return (
    <nav aria-labelledby="rooms-heading" className="rooms">
      <h2 id="rooms-heading" className="section-title">
        Rooms
      </h2>
      <ul className="room-list" data-testid="room-list">
        {rooms.map((r) => {
          const active = r.name === current;
          return (
            <li key={r.name} className={`room-item${active ? ' active' : ''}${r.unread > 0 ? ' has-unread' : ''}`}>
              <a
                href={pathForRoom(r.name)}
                aria-current={active ? 'page' : undefined}
                data-testid="room-link"
                data-room={r.name}
                onClick={(e) => {
                  if (e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return;
                  e.preventDefault();
                  onOpen(r.name);
                }}
              >
                <span className="room-hash" aria-hidden="true">
                  #
                </span>
                <span className="room-name">{r.name}</span>
                {r.unread > 0 && !active && (
                  <span className="unread-badge" data-testid="room-unread" aria-label={`${r.unread} unread`}>
                    {r.unread > 99 ? '99+' : r.unread}
                  </span>
                )}
              </a>
              {r.name !== DEFAULT_ROOM && (
                <button type="button" className="icon-button room-leave" aria-label={`Leave #${r.name}`} title={`Leave #${r.name}`} onClick={() => onLeave(r.name)} data-testid="room-leave">
                  <svg viewBox="0 0 16 16" width="12" height="12" aria-hidden="true">
                    <path d="M4 4l8 8M12 4l-8 8" stroke="currentColor" strokeWidth="1.8" strokeLinecap="round" />
                  </svg>
                </button>
              )}
            </li>
          );
        })}
      </ul>
      <JoinRoomForm onJoin={onOpen} />
    </nav>
  );
}

export function JoinRoomForm({ onJoin }: { onJoin(room: string): void }) {
  const [value, setValue] = useState('');
  const [error, setError] = useState<string | null>(null);
  const id = useId();
  return (
    <form
      className="join-room"
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        const room = normalizeRoomInput(value);
        if (!room) {
          setError('Use 1–64 lowercase letters, digits, - or _.');
          return;
        }
        setError(null);
        setValue('');
        onJoin(room);
      }}
    >
      <label htmlFor={id} className="sr-only">
        Join or create a room
      </label>
      <div className="join-room-row">
        <span className="room-hash" aria-hidden="true">
          #
        </span>
        <input
          id={id}
          value={value}
          onChange={(e) => {
            setValue(e.target.value);
            if (error) setError(null);
          }}
          placeholder="join or create a room"
          autoComplete="off"
          spellCheck={false}
          maxLength={80}
          aria-invalid={error ? true : undefined}
          aria-describedby={error ? `${id}-err` : undefined}
          data-testid="room-input"
        />
        <button type="submit" className="icon-button" aria-label="Join room" data-testid="room-join">
          <svg viewBox="0 0 16 16" width="14" height="14" aria-hidden="true">
            <path d="M8 3v10M3 8h10" stroke="currentColor" strokeWidth="1.8" strokeLinecap="round" />
          </svg>
        </button>
      </div>
      {error && (
        <p id={`${id}-err`} className="field-error" data-testid="room-error">
          {error}
        </p>
      )}
    </form>
  );
}
