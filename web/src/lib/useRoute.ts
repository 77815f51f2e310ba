import { useCallback, useEffect, useState } from 'react';
import { DEFAULT_ROOM } from '../protocol/types';
import { isValidRoom } from './validate';

export interface Route {
  /** The room to show (general when the path names none, or an invalid one). */
  room: string;
  /** What an invalid /r/... path asked for, to say so instead of quietly showing general. */
  invalid: string | null;
}

/** The room a path names: `/` means general, `/r/<room>` that room, anything else general. */
export function parseRoomPath(pathname: string): Route {
  const m = /^\/r\/([^/]*)\/?$/.exec(pathname) ?? /^\/r\/(.*)$/.exec(pathname);
  if (!m) return { room: DEFAULT_ROOM, invalid: null };
  let room: string;
  try {
    room = decodeURIComponent(m[1]);
  } catch {
    return { room: DEFAULT_ROOM, invalid: m[1] };
  }
  return isValidRoom(room) ? { room, invalid: null } : { room: DEFAULT_ROOM, invalid: room };
}

/** The room a path names, general for anything else (invalid ones included). */
export function roomFromPath(pathname: string): string {
  return parseRoomPath(pathname).room;
}

export function pathForRoom(room: string): string {
  return `/r/${encodeURIComponent(room)}`;
}

/** The current route from the URL, and a navigate function using history.pushState. */
export function useRoomRoute(): [Route, (room: string, replace?: boolean) => void] {
  const [route, setRoute] = useState(() => parseRoomPath(window.location.pathname));

  useEffect(() => {
    const onPop = () => setRoute(parseRoomPath(window.location.pathname));
    window.addEventListener('popstate', onPop);
    return () => window.removeEventListener('popstate', onPop);
  }, []);

  const navigate = useCallback((next: string, replace = false) => {
    const path = pathForRoom(next);
    if (window.location.pathname !== path) {
      if (replace) window.history.replaceState(null, '', path);
      else window.history.pushState(null, '', path);
    }
    setRoute({ room: next, invalid: null });
  }, []);

  return [route, navigate];
}
