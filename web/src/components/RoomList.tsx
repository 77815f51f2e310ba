import type { MouseEvent } from 'react';
import type { Directory } from '../chat/people';
import type { RoomState } from '../chat/state';
import { isDmRoom } from '../chat/state';
import { pathForRoom } from '../lib/useRoute';
import { DEFAULT_ROOM } from '../protocol/types';
import { Avatar } from './Avatar';

export interface RoomListProps {
  rooms: RoomState[];
  current: string;
  onOpen(room: string): void;
  onLeave(room: string): void;
  /** Opens the room browser (find, join or create a room). */
  onBrowse(): void;
  /**
   * A server with identity: direct-message rooms get a section of their own, labelled with
   * the other person's name.
   */
  people?: Directory;
}

function follow(e: MouseEvent, go: () => void): void {
  if (e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return;
  e.preventDefault();
  go();
}

export function RoomList({ rooms, current, onOpen, onLeave, onBrowse, people }: RoomListProps) {
  const identity = !!people?.identity;
  const dms = identity ? rooms.filter(isDmRoom) : [];
  const channels = identity ? rooms.filter((r) => !isDmRoom(r)) : rooms;
  return (
    <>
      <nav aria-labelledby="rooms-heading" className="rooms">
        <h2 id="rooms-heading" className="section-title">
          Rooms
        </h2>
        <ul className="room-list" data-testid="room-list">
          {channels.map((r) => {
            const active = r.name === current;
            return (
              <li key={r.name} className={`room-item${active ? ' active' : ''}${r.unread > 0 ? ' has-unread' : ''}${r.mentions > 0 && !active ? ' has-mention' : ''}`}>
                <a href={pathForRoom(r.name)} aria-current={active ? 'page' : undefined} data-testid="room-link" data-room={r.name} onClick={(e) => follow(e, () => onOpen(r.name))}>
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
      {identity && people && (
        <nav aria-labelledby="dms-heading" className="rooms dms">
          <h2 id="dms-heading" className="section-title">
            Direct messages
          </h2>
          {dms.length === 0 ? (
            <p className="dm-empty" data-testid="dm-empty">
              Message someone privately from the online list.
            </p>
          ) : (
            <ul className="room-list" data-testid="dm-list">
              {dms.map((r) => {
                const active = r.name === current;
                const label = r.dm ? people.label(r.dm) : 'Direct message';
                const unread = r.unread > 0 && !active;
                return (
                  <li key={r.name} className={`room-item dm-item${active ? ' active' : ''}${r.unread > 0 ? ' has-unread' : ''}`}>
                    <a
                      href={pathForRoom(r.name)}
                      aria-current={active ? 'page' : undefined}
                      aria-label={unread ? `${label}, ${r.unread} unread` : label}
                      data-testid="dm-link"
                      data-room={r.name}
                      data-user={r.dm?.id}
                      onClick={(e) => follow(e, () => onOpen(r.name))}
                    >
                      <span className="dm-avatar" aria-hidden="true">
                        <Avatar name={r.dm ? people.name(r.dm) : '?'} color={r.dm ? people.color(r.dm) : r.name} size="sm" />
                      </span>
                      <span className="room-name">{label}</span>
                      {unread && (
                        <span className="unread-badge dm-badge" data-testid="dm-unread" title="Unread direct messages">
                          {r.unread > 99 ? '99+' : r.unread}
                        </span>
                      )}
                    </a>
                  </li>
                );
              })}
            </ul>
          )}
        </nav>
      )}
    </>
  );
}
