import type { SocketLike } from '../chat/client';

/**
 * A scripted stand-in for the browser WebSocket: tests open it, push server frames into it,
 * close it with a code, and read what the client sent.
 */
export class FakeWebSocket implements SocketLike {
  static instances: FakeWebSocket[] = [];

  static reset(): void {
    FakeWebSocket.instances = [];
  }

  static last(): FakeWebSocket {
    const ws = FakeWebSocket.instances[FakeWebSocket.instances.length - 1];
    if (!ws) throw new Error('no WebSocket was created');
    return ws;
  }

  readonly url: string;
  readyState = 0;
  sent: string[] = [];
  closedByClient: { code?: number; reason?: string } | null = null;
  onopen: ((ev: Event) => void) | null = null;
  onmessage: ((ev: MessageEvent) => void) | null = null;
  onclose: ((ev: CloseEvent) => void) | null = null;
  onerror: ((ev: Event) => void) | null = null;

  constructor(url: string) {
    this.url = url;
    FakeWebSocket.instances.push(this);
  }

  send(data: string): void {
    if (this.readyState !== 1) throw new Error('InvalidStateError: not open');
    this.sent.push(data);
  }

  close(code?: number, reason?: string): void {
    this.closedByClient = { code, reason };
    this.readyState = 3;
  }

  // --- the server's side ---

  open(): void {
    this.readyState = 1;
    this.onopen?.(new Event('open'));
  }

  /** Delivers one text frame holding the given objects separated by newlines. */
  receive(...objects: object[]): void {
    this.onmessage?.({ data: objects.map((o) => JSON.stringify(o)).join('\n') } as MessageEvent);
  }

  receiveRaw(data: string): void {
    this.onmessage?.({ data } as MessageEvent);
  }

  serverClose(code: number, reason = ''): void {
    this.readyState = 3;
    this.onclose?.({ code, reason, wasClean: code !== 1006 } as CloseEvent);
  }

  /** Everything the client sent, parsed. */
  frames(): Array<Record<string, unknown>> {
    return this.sent.map((s) => JSON.parse(s) as Record<string, unknown>);
  }

  framesOfType(type: string): Array<Record<string, unknown>> {
    return this.frames().filter((f) => f.type === type);
  }
}

export function msg(room: string, seq: number, from: { id: string; name: string }, body = `message ${seq}`, extra: object = {}) {
  return { type: 'message', room, seq, id: `${room}-m${seq}`, from, body, ts: 1_764_000_000_000 + seq * 1000, ...extra };
}

export function welcome(room: string, me: { id: string; name: string }, history: object[] = [], extra: object = {}) {
  return {
    type: 'welcome',
    id: me.id,
    name: me.name,
    room,
    rooms: [room],
    online: [me],
    history,
    last_seq: 0,
    has_more: false,
    limits: { max_message_bytes: 65536, max_body_bytes: 16384, rate: 10, burst: 30 },
    version: 'test',
    ...extra,
  };
}
