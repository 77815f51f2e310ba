import type { ClientFrame, ServerFrame } from './types';

export interface ParseResult {
  frames: ServerFrame[];
  /** Lines that were not JSON objects with a string `type`; the rest of the frame still counts. */
  bad: string[];
}

/**
 * Splits one WebSocket text frame from the server into its objects. The server coalesces queued
 * objects into one frame separated by `\n`, so every frame may carry several; blank lines are
 * skipped and one bad line does not lose the others.
 */
export function parseFrame(data: string): ParseResult {
  const frames: ServerFrame[] = [];
  const bad: string[] = [];
  for (const raw of data.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      bad.push(line);
      continue;
    }
    if (value !== null && typeof value === 'object' && !Array.isArray(value) && typeof (value as { type?: unknown }).type === 'string') {
      frames.push(value as ServerFrame);
    } else {
      bad.push(line);
    }
  }
  return { frames, bad };
}

/** Encodes one client object as a JSON text frame. */
export function encodeFrame(frame: ClientFrame): string {
  return JSON.stringify(frame);
}
