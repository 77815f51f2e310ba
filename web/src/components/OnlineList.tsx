import type { Directory } from '../chat/people';
import type { OnlineUser, User } from '../protocol/types';
import { Avatar } from './Avatar';
import type { Anchor } from './Popover';
import { anchorOf } from './Popover';

export interface OnlineListProps {
  users: OnlineUser[];
  /**
   * Members of the room, when more than `users` (a large room, whose list is only its first
   * members). Otherwise the list is complete and counted by person.
   */
  total?: number;
  /** Ids of this client's own connections (servers without identity). */
  myIds: string[];
  /** Stale while disconnected: shown dimmed. */
  stale?: boolean;
  /**
   * A server with identity: the list holds people (one entry per user id, with their device
   * count), named by the directory so that two people called Sam are told apart.
   */
  people?: Directory;
  /** This person's user id (identity). */
  myId?: string | null;
  /** Opens a person's menu (direct message); the entries of others become buttons. */
  onPerson?(user: User, anchor: Anchor, trigger: HTMLElement | null): void;
}

interface Entry {
  key: string;
  user: User;
  name: string;
  label: string;
  color: string;
  me: boolean;
  /** Connections: devices of a person (identity), or tabs sharing a name (older servers). */
  count: number;
}

/**
 * Without identity a person with two tabs is two users with one name: shown once, with the
 * number of connections.
 */
function byName(users: OnlineUser[], myIds: string[]): Entry[] {
  const map = new Map<string, Entry>();
  for (const u of users) {
    const e = map.get(u.name) ?? { key: u.name, user: u, name: u.name, label: u.name, color: u.name, me: false, count: 0 };
    e.count++;
    e.me ||= myIds.includes(u.id);
    map.set(u.name, e);
  }
  return [...map.values()];
}

function byPerson(users: OnlineUser[], people: Directory, myId: string | null): Entry[] {
  return users.map((u) => ({ key: u.id, user: u, name: people.name(u), label: people.label(u), color: people.color(u), me: u.id === myId, count: u.devices ?? 1 }));
}

/**
 * Who is in the room, the user first. A large room lists only its first members and the
 * number of the others.
 */
export function OnlineList({ users, myIds, total, stale = false, people, myId = null, onPerson }: OnlineListProps) {
  const entries = (people?.identity ? byPerson(users, people, myId) : byName(users, myIds)).sort((a, b) => (a.me === b.me ? a.label.localeCompare(b.label) : a.me ? -1 : 1));
  const identity = !!people?.identity;
  // Unlisted members are counted as users: their names (and so their tabs) are unknown.
  const more = total !== undefined && total > users.length ? total - users.length : 0;

  return (
    <section className={`online${stale ? ' stale' : ''}`} aria-labelledby="online-heading">
      <h2 id="online-heading" className="section-title">
        Online <span className="count-badge" data-testid="online-count">{more > 0 ? total : entries.length}</span>
      </h2>
      <ul className="online-list" data-testid="online-list">
        {entries.map((p) => {
          const inner = (
            <>
              <span className="presence-avatar">
                <Avatar name={p.name} color={p.color} size="sm" />
                <span className="presence-dot" aria-hidden="true" />
              </span>
              <span className="online-name">{p.label}</span>
              {p.me && <span className="you-tag">you</span>}
              {p.count > 1 &&
                (identity ? (
                  <span className="devices-tag" title={`Connected on ${p.count} devices`} data-testid="online-devices">
                    {p.count} devices
                  </span>
                ) : (
                  <span className="tabs-tag" title={`${p.count} connections`}>
                    ×{p.count}
                  </span>
                ))}
            </>
          );
          return (
            <li key={p.key} className="online-user" data-testid="online-user" data-name={p.user.name} data-label={p.label} data-id={identity ? p.user.id : undefined} data-me={p.me ? 'true' : undefined}>
              {onPerson && identity && !p.me ? (
                <button type="button" className="online-button" aria-haspopup="menu" aria-label={`${p.label}${p.count > 1 ? `, on ${p.count} devices` : ''}: options`} onClick={(e) => onPerson(p.user, anchorOf(e.currentTarget), e.currentTarget)} data-testid="online-person">
                  {inner}
                </button>
              ) : (
                inner
              )}
            </li>
          );
        })}
      </ul>
      {more > 0 && (
        <p className="online-more" data-testid="online-more">
          and {more} more
        </p>
      )}
    </section>
  );
}
