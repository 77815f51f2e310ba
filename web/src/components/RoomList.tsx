import type { MouseEvent } from 'react';
import { useRef, useState } from 'react';
import type { Directory } from '../chat/people';
import type { RoomState } from '../chat/state';
import { isDmRoom } from '../chat/state';
import { pathForRoom } from '../lib/useRoute';
import { DEFAULT_ROOM } from '../protocol/types';
import { Avatar } from './Avatar';
import { Menu } from './Menu';
import type { Anchor } from './Popover';
import { anchorOf } from './Popover';

/** How long a touch must rest on a conversation to open its menu (as on a message). */
const LONG_PRESS_MS = 480;

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
  /** Hides a direct-message room (off the list until one of the two opens it again). */
  onHide?(room: string): void;
}

function follow(e: MouseEvent, go: () => void): void {
  if (e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return;
  e.preventDefault();
  go();
}

export function RoomList({ rooms, current, onOpen, onLeave, onBrowse, people, onHide }: RoomListProps) {
  const identity = !!people?.identity;
  const [menu, setMenu] = useState<{ room: string; label: string; anchor: Anchor; trigger: HTMLElement | null } | null>(null);
  const press = useRef<{ timer: ReturnType<typeof setTimeout>; x: number; y: number; fired: boolean } | null>(null);
  const cancelPress = () => {
    if (press.current) clearTimeout(press.current.timer);
  };
  const openMenu = (room: string, label: string, anchor: Anchor, trigger: HTMLElement | null) => {
    if (onHide) setMenu({ room, label, anchor, trigger });
  };
  // The focus goes to the conversation that takes the hidden one's place (else the room shown),
  // not to the page: the hidden one's link and button are gone.
  const hide = (room: string) => {
    if (!onHide) return;
    const i = dms.findIndex((r) => r.name === room);
    const next = dms[i + 1] ?? dms[i - 1];
    onHide(room);
    requestAnimationFrame(() => {
      const sidebar = document.getElementById('sidebar') ?? document;
      const target = next ? sidebar.querySelector<HTMLElement>(`[data-testid="dm-link"][data-room="${next.name}"]`) : sidebar.querySelector<HTMLElement>('a[aria-current="page"]');
      target?.focus();
    });
  };
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
                    <CloseIcon />
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
                  <li key={r.name} className={`room-item dm-item${active ? ' active' : ''}${r.unread > 0 ? ' has-unread' : ''}${menu?.room === r.name ? ' menu-open' : ''}`}>
                    <a
                      href={pathForRoom(r.name)}
                      aria-current={active ? 'page' : undefined}
                      aria-label={unread ? `${label}, ${r.unread} unread` : label}
                      data-testid="dm-link"
                      data-room={r.name}
                      data-user={r.dm?.id}
                      onClick={(e) => {
                        // The finger lifted after a long press: the menu is open, the room is not.
                        if (press.current?.fired) {
                          e.preventDefault();
                          press.current = null;
                          return;
                        }
                        follow(e, () => onOpen(r.name));
                      }}
                      onContextMenu={(e) => {
                        // A right click, or a long press where the browser reports one (Android).
                        if (!onHide) return;
                        e.preventDefault();
                        if (press.current?.fired) return;
                        openMenu(r.name, label, e.clientX || e.clientY ? { top: e.clientY, bottom: e.clientY, left: e.clientX, right: e.clientX } : anchorOf(e.currentTarget), e.currentTarget);
                      }}
                      onKeyDown={(e) => {
                        if (e.key === 'ContextMenu' || (e.shiftKey && e.key === 'F10')) {
                          e.preventDefault();
                          openMenu(r.name, label, anchorOf(e.currentTarget), e.currentTarget);
                        }
                      }}
                      onTouchStart={(e) => {
                        if (!onHide) return;
                        const t = e.touches[0];
                        const link = e.currentTarget;
                        cancelPress();
                        press.current = {
                          x: t.clientX,
                          y: t.clientY,
                          fired: false,
                          timer: setTimeout(() => {
                            if (press.current) press.current.fired = true;
                            navigator.vibrate?.(10);
                            openMenu(r.name, label, anchorOf(link), link);
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
                    {onHide && (
                      <button type="button" className="icon-button room-leave dm-hide" aria-label={`Hide conversation with ${label}`} title="Hide conversation" onClick={() => hide(r.name)} data-testid="dm-hide">
                        <CloseIcon />
                      </button>
                    )}
                  </li>
                );
              })}
            </ul>
          )}
        </nav>
      )}
      {menu && onHide && (
        <Menu
          anchor={menu.anchor}
          align="start"
          label={menu.label}
          testId="dm-menu"
          onClose={() => {
            if (menu.trigger?.isConnected) menu.trigger.focus();
            setMenu(null);
          }}
          items={[{ key: 'hide', label: 'Hide conversation', hint: 'Message them again to bring it back', icon: <CloseIcon size={13} />, onSelect: () => hide(menu.room) }]}
        />
      )}
    </>
  );
}

function CloseIcon({ size = 12 }: { size?: number }) {
  return (
    <svg viewBox="0 0 16 16" width={size} height={size} aria-hidden="true">
      <path d="M4 4l8 8M12 4l-8 8" stroke="currentColor" strokeWidth="1.8" strokeLinecap="round" />
    </svg>
  );
}
