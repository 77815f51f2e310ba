// Client-side mirrors of the server's rules (docs/protocol.md, "Connecting"), so the UI can
// explain a problem before the server refuses it.

export const MAX_NAME_CHARS = 32;
export const ROOM_PATTERN = /^[a-z0-9_-]{1,64}$/;

/** Returns the trimmed name, or an error message explaining why it is not acceptable. */
export function checkName(input: string): { ok: true; name: string } | { ok: false; error: string } {
  const name = input.trim();
  const chars = [...name];
  if (chars.length === 0) return { ok: false, error: 'Please enter a name.' };
  if (chars.length > MAX_NAME_CHARS) return { ok: false, error: `At most ${MAX_NAME_CHARS} characters, please.` };
  for (const ch of chars) {
    // The server accepts printable characters and the plain space (Go's unicode.IsPrint).
    if (/[\p{C}\p{Zl}\p{Zp}]/u.test(ch) || (ch !== ' ' && /\p{Zs}/u.test(ch))) {
      return { ok: false, error: 'Names cannot contain control or invisible characters.' };
    }
  }
  return { ok: true, name };
}

export function isValidRoom(room: string): boolean {
  return ROOM_PATTERN.test(room);
}

/**
 * Turns what someone typed into a room name ("  Dev Ops" -> "dev-ops"), or null when nothing
 * valid remains. Lets "#general" and upper case through without a scolding.
 */
export function normalizeRoomInput(input: string): string | null {
  const room = input.trim().replace(/^#+/, '').toLowerCase().replace(/\s+/g, '-');
  return isValidRoom(room) ? room : null;
}

const encoder = new TextEncoder();

/** Length in UTF-8 bytes, the unit of the server's `max_body_bytes`. */
export function byteLength(s: string): number {
  return encoder.encode(s).length;
}

/** The body the composer sends: no leading blank lines, no trailing whitespace. */
export function cleanBody(s: string): string {
  return s.replace(/^(?:[ \t]*\r?\n)+/, '').trimEnd();
}
