// Small typed wrappers around localStorage that never throw (private mode, quota, disabled).

const NAME_KEY = 'distchat.name';
const ROOMS_KEY = 'distchat.rooms';

function get(key: string): string | null {
  try {
    return window.localStorage.getItem(key);
  } catch {
    return null;
  }
}

function set(key: string, value: string | null): void {
  try {
    if (value === null) window.localStorage.removeItem(key);
    else window.localStorage.setItem(key, value);
  } catch {
    // Nothing to do: the app works without persistence.
  }
}

export function loadName(): string | null {
  return get(NAME_KEY);
}

export function saveName(name: string): void {
  set(NAME_KEY, name);
}

/** Rooms the user has joined, so a reload brings the sidebar back. */
export function loadRooms(): string[] {
  const raw = get(ROOMS_KEY);
  if (!raw) return [];
  try {
    const v: unknown = JSON.parse(raw);
    return Array.isArray(v) ? v.filter((r): r is string => typeof r === 'string') : [];
  } catch {
    return [];
  }
}

export function saveRooms(rooms: string[]): void {
  set(ROOMS_KEY, JSON.stringify(rooms));
}
