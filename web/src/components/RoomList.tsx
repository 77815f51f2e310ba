import type { RoomState } from '../chat/state';
import { pathForRoom } from '../lib/useRoute';
import { DEFAULT_ROOM } from '../protocol/types';

export interface RoomListProps {
  rooms: RoomState[];
  current: string;
  onOpen(room: string): void;
  onLeave(room: string): void;
  /** Opens the room browser (find, join or create a room). */
  onBrowse(): void;
}

export function RoomList({ rooms, current, onOpen, onLeave, onBrowse }: RoomListProps) {
  return (
    <nav aria-labelledby="rooms-heading" className="rooms">
      <h2 id="rooms-heading" className="section-title">
        Rooms
      </h2>
      <ul className="room-list" data-testid="room-list">
        {rooms.map((r) => {
          const active = r.name === current;
          return (
            <li key={r.name} className={`room-item${active ? ' active' : ''}${r.unread > 0 ? ' has-unread' : ''}${r.mentions > 0 && !active ? ' has-mention' : ''}`}>
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
                {r.mentions > 0 && !active && (
                  <span className="mention-badge" data-testid="room-mentions" aria-label={r.mentions === 1 ? '1 mention' : `${r.mentions} mentions`} title="Mentions of you">
                    @{r.mentions > 9 ? '9+' : r.mentions}
                  </span>
                )}
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
      <button type="button" className="browse-rooms" onClick={onBrowse} data-testid="browse-rooms">
        <svg viewBox="0 0 16 16" width="14" height="14" aria-hidden="true">
          <path d="M8 3v10M3 8h10" stroke="currentColor" strokeWidth="1.8" strokeLinecap="round" />
        </svg>
        Browse or create rooms
      </button>
    </nav>
  );
}
