// Set-up shared by the test files that drive the App or useChat over a FakeWebSocket.

import { act, renderHook, waitFor } from '@testing-library/react';
import { afterEach, beforeEach, expect, vi } from 'vitest';
import type { UseChatOptions } from '../chat/useChat';
import { useChat } from '../chat/useChat';
import { FakeWebSocket } from './fakeWebSocket';

/** For App tests: each test starts at `/` with no sockets and FakeWebSocket as window.WebSocket. */
export function stubWebSocketInEachTest(): void {
  beforeEach(() => {
    FakeWebSocket.reset();
    vi.stubGlobal('WebSocket', FakeWebSocket);
    window.history.replaceState(null, '', '/');
  });
  afterEach(() => {
    vi.unstubAllGlobals();
  });
}

/** Waits until the App has opened its n-th socket, and returns the newest. */
export async function socket(n = 1): Promise<FakeWebSocket> {
  await waitFor(() => expect(FakeWebSocket.instances).toHaveLength(n));
  return FakeWebSocket.last();
}

/** For useChat tests: fake timers and no sockets in each test. */
export function fakeTimersInEachTest(): void {
  beforeEach(() => {
    vi.useFakeTimers();
    FakeWebSocket.reset();
  });
  afterEach(() => {
    vi.useRealTimers();
  });
}

/** Renders useChat with test defaults (FakeWebSocket, no persistence) and lets it connect. */
export function renderChat(opts: Partial<UseChatOptions>) {
  const hook = renderHook((props: UseChatOptions) => useChat(props), {
    initialProps: {
      name: 'alice',
      room: 'general',
      WebSocket: FakeWebSocket,
      random: () => 0,
      persistRooms: false,
      watchNetwork: false,
      ...opts,
    },
  });
  // The client connects on the next tick.
  act(() => vi.advanceTimersByTime(0));
  return hook;
}

/** Opens the newest socket and plays the server's welcome on it. */
export function openWith(welcomeObject: object): FakeWebSocket {
  const ws = FakeWebSocket.last();
  act(() => {
    ws.open();
    ws.receive(welcomeObject);
  });
  return ws;
}

export function advance(ms: number): void {
  act(() => vi.advanceTimersByTime(ms));
}

/** Lets promises settle (a fetch the fake answered) under fake timers. */
export async function settle(): Promise<void> {
  await act(async () => {
    for (let i = 0; i < 20; i++) await Promise.resolve();
  });
}
