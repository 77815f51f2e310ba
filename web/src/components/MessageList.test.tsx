import { act, fireEvent, render, screen, within } from '@testing-library/react';
import { describe, expect, it, vi } from 'vitest';
import type { Overlays } from '../chat/events';
import type { Notice, PendingMessage, PendingOp } from '../chat/state';
import { buildTimeline } from '../chat/timeline';
import type { Message, User } from '../protocol/types';
import type { ScrollPlace } from './MessageList';
import { MessageList } from './MessageList';

const alice = { id: 'ua', name: 'alice' };
const bob = { id: 'ub', name: 'bob' };
const base = new Date(2025, 10, 24, 14, 5, 0).getTime();

function m(seq: number, from: User, body: string, minutes = seq): Message {
  return { room: 'general', seq, id: `m${seq}`, from, body, ts: base + minutes * 60_000 };
}

function renderList(messages: Message[], notices: Notice[] = [], pending: PendingMessage[] = [], extra: Partial<Parameters<typeof MessageList>[0]> = {}) {
  const rows = buildTimeline({ messages, notices, pending, isMine: (u) => u.id === alice.id, me: alice });
  const actions = { react: vi.fn(), edit: vi.fn(), requestDelete: vi.fn(), retry: vi.fn(), discard: vi.fn() };
  const props = { room: 'general', rows, hasMore: false, loadingOlder: false, loaded: true, onLoadOlder: vi.fn(), actions, myName: alice.name, ...extra };
  const r = render(<MessageList {...props} />);
  return { ...r, props };
}

describe('MessageList', () => {
  it('renders sender, the time in the locale’s format with the full date as title, and the body', () => {
    renderList([m(1, bob, 'hello there', 0)]);
    const item = screen.getByTestId('message');
    expect(within(item).getByTestId('message-author').textContent).toBe('bob');
    const time = within(item).getByTestId('message-time');
    expect(time.textContent).toBe(new Intl.DateTimeFormat(undefined, { hour: 'numeric', minute: '2-digit' }).format(base));
    expect(time.getAttribute('title')).toContain('2025');
    expect(time.getAttribute('datetime')).toBe(new Date(base).toISOString());
    expect(within(item).getByTestId('message-body').textContent).toBe('hello there');
    expect(item.dataset.own).toBe('false');
  });

  it('distinguishes own messages', () => {
    renderList([m(1, bob, 'hi'), m(2, alice, 'hey')]);
    const [theirs, mine] = screen.getAllByTestId('message');
    expect(theirs.dataset.own).toBe('false');
    expect(mine.dataset.own).toBe('true');
    expect(mine.className).toContain('msg-own');
    expect(theirs.className).toContain('msg-other');
  });

  it('groups consecutive messages from one sender and starts a new group on a change of sender or a long pause', () => {
    renderList([m(1, bob, 'a', 0), m(2, bob, 'b', 1), m(3, bob, 'c', 2), m(4, alice, 'd', 3), m(5, bob, 'e', 4), m(6, bob, 'f', 30)]);
    const items = screen.getAllByTestId('message');
    expect(items.map((el) => el.classList.contains('msg-first'))).toEqual([true, false, false, true, true, true]);
    expect(items.map((el) => el.classList.contains('msg-last'))).toEqual([false, false, true, true, true, true]);
    // The author is named once per group.
    expect(screen.getAllByTestId('message-author').map((el) => el.textContent)).toEqual(['bob', 'You', 'bob', 'bob']);
  });

  it('renders markup in a body as text, never as HTML', () => {
    const evil = '<img src=x onerror=alert(1)><script>alert(2)</script><b>bold</b>';
    const { container } = renderList([m(1, bob, evil)]);
    expect(screen.getByTestId('message-body').textContent).toBe(evil);
    expect(container.querySelector('img')).toBeNull();
    expect(container.querySelector('script')).toBeNull();
    expect(container.querySelector('b')).toBeNull();
  });

  it('keeps newlines (pre-wrap) and links URLs safely', () => {
    renderList([m(1, bob, 'line one\nsee https://example.com/x')]);
    const body = screen.getByTestId('message-body');
    expect(body.textContent).toBe('line one\nsee https://example.com/x');
    const a = body.querySelector('a')!;
    expect(a.getAttribute('href')).toBe('https://example.com/x');
    expect(a.getAttribute('rel')).toBe('noopener noreferrer');
    expect(a.getAttribute('target')).toBe('_blank');
  });

  it('places join and leave notices inline by time', () => {
    const notices: Notice[] = [
      { kind: 'join', key: 'j', user: { id: 'uc', name: 'carol' }, ts: base + 90_000 },
      { kind: 'leave', key: 'l', user: bob, ts: base + 10 * 60_000 },
    ];
    const { container } = renderList([m(1, bob, 'first', 1), m(2, bob, 'second', 2)], notices);
    const order = [...container.querySelectorAll('[data-testid="message"], [data-testid="notice"]')].map((el) => el.textContent?.replace(/\d?\d:\d\d( ?[AP]M)?/g, '').trim());
    expect(order[0]).toContain('first');
    expect(order[1]).toBe('carol joined');
    expect(order[2]).toContain('second');
    expect(order[3]).toBe('bob left');
  });

  it('shows pending and failed own messages with a retry action', () => {
    const pending: PendingMessage[] = [
      { ref: 'r1', room: 'general', body: 'on its way', createdAt: base + 5 * 60_000, status: 'pending' },
      { ref: 'r2', room: 'general', body: 'refused', createdAt: base + 6 * 60_000, status: 'failed', error: 'rate limited' },
    ];
    const { props } = renderList([m(1, bob, 'hi')], [], pending);
    const items = screen.getAllByTestId('message');
    expect(items.map((el) => el.dataset.status)).toEqual(['sent', 'pending', 'failed']);
    expect(screen.getByTestId('message-failed').textContent).toContain('rate limited');
    fireEvent.click(screen.getByTestId('message-retry'));
    expect(props.actions.retry).toHaveBeenCalledWith('r2');
    fireEvent.click(screen.getByTestId('message-discard'));
    expect(props.actions.discard).toHaveBeenCalledWith('r2');
  });

  it('shows the beginning of the room when there is no older history, a loader otherwise', () => {
    const { unmount } = renderList([m(1, bob, 'x')]);
    expect(screen.getByTestId('room-start')).toBeTruthy();
    unmount();
    renderList([m(1, bob, 'x')], [], [], { hasMore: true });
    expect(screen.queryByTestId('room-start')).toBeNull();
    expect(screen.getByTestId('history-loading')).toBeTruthy();
  });

  it('asks for older messages when scrolled to the top', () => {
    const { props } = renderList([m(1, bob, 'x')], [], [], { hasMore: true });
    const list = screen.getByTestId('message-list');
    Object.defineProperty(list, 'scrollTop', { value: 0, writable: true });
    fireEvent.scroll(list);
    expect(props.onLoadOlder).toHaveBeenCalled();
  });

  it('announces new messages briefly in a live region, not the whole log', () => {
    const { rerender, props } = renderList([m(1, bob, 'hi')]);
    const list = screen.getByTestId('message-list');
    expect(list.getAttribute('role')).toBe('log');
    expect(list.getAttribute('aria-live')).toBe('off');
    const announcer = screen.getByTestId('announcer');
    expect(announcer.getAttribute('aria-live')).toBe('polite');
    const rows = buildTimeline({ messages: [m(1, bob, 'hi'), m(2, bob, 'hey   @alice\nlook'), m(3, bob, 'third')], notices: [], pending: [], isMine: (u) => u.id === alice.id, me: alice });
    rerender(<MessageList {...props} rows={rows.slice(0, -1)} />);
    expect(announcer.textContent).toBe('bob mentioned you: hey @alice look');
    rerender(<MessageList {...props} rows={rows} />);
    expect(announcer.textContent).toBe('bob: third');
  });
});

describe('MessageList scrolling', () => {
  // jsdom has no layout: every message row is 100 px tall, the view 300 px.
  function withLayout() {
    const height = Object.getOwnPropertyDescriptor(HTMLElement.prototype, 'scrollHeight');
    const client = Object.getOwnPropertyDescriptor(HTMLElement.prototype, 'clientHeight');
    Object.defineProperty(HTMLElement.prototype, 'scrollHeight', {
      configurable: true,
      get(this: HTMLElement) {
        return this.dataset.testid === 'message-list' ? this.querySelectorAll('[data-testid="message"]').length * 100 : 0;
      },
    });
    Object.defineProperty(HTMLElement.prototype, 'clientHeight', {
      configurable: true,
      get(this: HTMLElement) {
        return this.dataset.testid === 'message-list' ? 300 : 0;
      },
    });
    return () => {
      if (height) Object.defineProperty(HTMLElement.prototype, 'scrollHeight', height);
      if (client) Object.defineProperty(HTMLElement.prototype, 'clientHeight', client);
    };
  }

  const noActions = { react() {}, edit() {}, requestDelete() {}, retry() {}, discard() {} };
  let memory = new Map<string, ScrollPlace>();

  function list(messages: Message[], pending: PendingMessage[] = []) {
    const rows = buildTimeline({ messages, notices: [], pending, isMine: (u) => u.id === alice.id, me: alice });
    return <MessageList room="general" rows={rows} hasMore={false} loadingOlder={false} loaded onLoadOlder={() => {}} actions={noActions} scrollMemory={memory} />;
  }

  const ten = Array.from({ length: 10 }, (_, i) => m(i + 10, bob, `msg ${i + 10}`));

  it('follows new messages when at the bottom', () => {
    const restore = withLayout();
    try {
      const { rerender } = render(list(ten));
      const el = screen.getByTestId('message-list');
      expect(el.scrollTop).toBe(1000);
      rerender(list([...ten, m(20, bob, 'new')]));
      expect(el.scrollTop).toBe(1100);
      expect(screen.queryByTestId('jump-latest')).toBeNull();
    } finally {
      restore();
    }
  });

  it('does not yank a reader who scrolled up, and offers a "new messages" pill', () => {
    const restore = withLayout();
    try {
      const { rerender } = render(list(ten));
      const el = screen.getByTestId('message-list');
      el.scrollTop = 200;
      fireEvent.scroll(el);
      rerender(list([...ten, m(20, bob, 'new one')]));
      rerender(list([...ten, m(20, bob, 'new one'), m(21, bob, 'new two')]));
      expect(el.scrollTop).toBe(200);
      const pill = screen.getByTestId('jump-latest');
      expect(pill.textContent).toContain('2 new messages');
      fireEvent.click(pill);
      expect(el.scrollTop).toBe(1200);
      expect(screen.queryByTestId('jump-latest')).toBeNull();
    } finally {
      restore();
    }
  });

  it('scrolls to the bottom for the reader’s own new message', () => {
    const restore = withLayout();
    try {
      const { rerender } = render(list(ten));
      const el = screen.getByTestId('message-list');
      el.scrollTop = 100;
      fireEvent.scroll(el);
      rerender(list(ten, [{ ref: 'r', room: 'general', body: 'mine', createdAt: base + 60 * 60_000, status: 'pending' }]));
      expect(el.scrollTop).toBe(1100);
    } finally {
      restore();
    }
  });

  it('keeps the reading position when older messages are prepended', () => {
    const restore = withLayout();
    try {
      const { rerender } = render(list(ten));
      const el = screen.getByTestId('message-list');
      el.scrollTop = 50;
      fireEvent.scroll(el);
      const older = Array.from({ length: 5 }, (_, i) => m(i + 1, bob, `old ${i + 1}`));
      rerender(list([...older, ...ten]));
      // Five rows of 100 px were added above: the same message stays in view.
      expect(el.scrollTop).toBe(550);
      // Scrolled up with nothing new below: a plain way back down.
      expect(screen.getByTestId('jump-latest').textContent).toContain('Jump to latest');
    } finally {
      restore();
    }
  });

  it('opens at the "New messages" divider when the unread ones do not fit, and marks nothing read until the bottom', () => {
    const restore = withLayout();
    try {
      const onSeen = vi.fn();
      const rows = buildTimeline({ messages: ten, notices: [], pending: [], isMine: (u) => u.id === alice.id, me: alice, divider: 11 });
      render(<MessageList room="general" rows={rows} hasMore={false} loadingOlder={false} loaded onLoadOlder={() => {}} actions={noActions} onSeen={onSeen} />);
      const el = screen.getByTestId('message-list');
      expect(screen.getByTestId('new-divider').textContent).toBe('New messages');
      // jsdom has no positions: the divider is at the top, so the view starts there.
      expect(el.scrollTop).toBe(0);
      expect(onSeen).not.toHaveBeenCalled();
      fireEvent.click(screen.getByTestId('jump-latest'));
      expect(onSeen).toHaveBeenCalledTimes(1);
    } finally {
      restore();
    }
  });

  it('reports the newest message seen when it opens at the bottom', () => {
    const restore = withLayout();
    try {
      const onSeen = vi.fn();
      const rows = buildTimeline({ messages: ten, notices: [], pending: [], isMine: (u) => u.id === alice.id, me: alice });
      render(<MessageList room="general" rows={rows} hasMore={false} loadingOlder={false} loaded onLoadOlder={() => {}} actions={noActions} onSeen={onSeen} />);
      expect(onSeen).toHaveBeenCalledTimes(1);
    } finally {
      restore();
    }
  });

  it('reports an empty room as seen once it is loaded', () => {
    const onSeen = vi.fn();
    const props = { room: 'general', rows: [], hasMore: false, loadingOlder: false, onLoadOlder: () => {}, actions: noActions, onSeen };
    const { rerender } = render(<MessageList {...props} loaded={false} />);
    expect(onSeen).not.toHaveBeenCalled();
    rerender(<MessageList {...props} loaded />);
    expect(onSeen).toHaveBeenCalledTimes(1);
  });

  it('comes back to where the reader was in a room after visiting another', () => {
    const restore = withLayout();
    try {
      memory = new Map();
      const first = render(list(ten));
      let el = screen.getByTestId('message-list');
      el.scrollTop = 300;
      fireEvent.scroll(el);
      first.unmount();
      expect(memory.get('general')).toEqual({ top: 300, atBottom: false });

      render(list(ten));
      el = screen.getByTestId('message-list');
      expect(el.scrollTop).toBe(300);
      expect(screen.getByTestId('jump-latest')).toBeTruthy();
    } finally {
      memory = new Map();
      restore();
    }
  });
});

describe('MessageList: conversation features', () => {
  function setup(messages: Message[], opts: { overlays?: Overlays; ops?: PendingOp[]; editingId?: string | null } = {}) {
    const rows = buildTimeline({ messages, notices: [], pending: [], overlays: opts.overlays, ops: opts.ops, isMine: (u) => u.id === alice.id, me: alice });
    const actions = { react: vi.fn(), edit: vi.fn(), requestDelete: vi.fn(), retry: vi.fn(), discard: vi.fn() };
    const onEditingChange = vi.fn();
    const r = render(<MessageList room="general" rows={rows} hasMore={false} loadingOlder={false} loaded onLoadOlder={() => {}} actions={actions} myName="alice" editingId={opts.editingId ?? null} onEditingChange={onEditingChange} />);
    return { ...r, actions, onEditingChange };
  }

  it('offers edit and delete on the user’s own messages only', () => {
    setup([m(1, bob, 'theirs'), m(2, alice, 'mine')]);
    const [theirs, mine] = screen.getAllByTestId('message');
    expect(within(theirs).queryByTestId('action-edit')).toBeNull();
    expect(within(theirs).queryByTestId('action-delete')).toBeNull();
    expect(within(theirs).getByTestId('action-react')).toBeTruthy();
    expect(within(mine).getByTestId('action-edit')).toBeTruthy();
    expect(within(mine).getByTestId('action-delete')).toBeTruthy();
  });

  it('shows "(edited)", a tombstone for deleted messages, and the pending change at once', () => {
    const overlays: Overlays = { m1: { edit: { body: 'fixed', seq: 5, ts: 0 } }, m2: { deleted: { seq: 6, ts: 0 } } };
    const ops: PendingOp[] = [{ ref: 'e1', room: 'general', createdAt: 0, op: { kind: 'edit', id: 'm3', body: 'being fixed' } }];
    setup([m(1, bob, 'fxied'), m(2, bob, 'oops'), m(3, alice, 'typo')], { overlays, ops });
    const [edited, deleted, pending] = screen.getAllByTestId('message');
    expect(within(edited).getByTestId('message-body').textContent).toBe('fixed');
    expect(within(edited).getByTestId('message-edited').textContent).toBe('(edited)');
    expect(within(deleted).getByTestId('message-deleted').textContent).toBe('This message was deleted');
    expect(within(deleted).queryByTestId('message-body')).toBeNull();
    expect(within(deleted).queryByTestId('action-more')).toBeNull();
    expect(within(pending).getByTestId('message-body').textContent).toBe('being fixed');
  });

  it('shows reaction chips with counts, who reacted, and toggles the user’s own', () => {
    const overlays: Overlays = {
      m1: {
        reactions: {
          '👍': { ua: { name: 'alice', on: true, seq: 3 }, uc: { name: 'carol', on: true, seq: 4 } },
          '🎉': { uc: { name: 'carol', on: true, seq: 5 } },
        },
      },
    };
    const { actions } = setup([m(1, bob, 'ship it')], { overlays });
    const chips = screen.getAllByTestId('reaction');
    expect(chips.map((c) => c.textContent)).toEqual(['👍2', '🎉1']);
    expect(chips[0].getAttribute('aria-pressed')).toBe('true');
    expect(chips[0].getAttribute('title')).toBe('alice and carol reacted with 👍');
    expect(chips[1].getAttribute('aria-pressed')).toBe('false');
    fireEvent.click(chips[0]);
    expect(actions.react).toHaveBeenCalledWith('m1', '👍', false);
    fireEvent.click(chips[1]);
    expect(actions.react).toHaveBeenCalledWith('m1', '🎉', true);
  });

  it('reacts from the picker: common emoji plus the ones on the message', () => {
    const overlays: Overlays = { m1: { reactions: { '🦀': { uc: { name: 'carol', on: true, seq: 4 } } } } };
    const { actions } = setup([m(1, bob, 'rust?')], { overlays });
    fireEvent.click(screen.getByTestId('action-react'));
    const options = screen.getAllByTestId('emoji-option').map((o) => o.textContent);
    expect(options).toEqual(['👍', '❤️', '😂', '🎉', '😮', '😢', '🙏', '👀', '🦀']);
    fireEvent.click(screen.getAllByTestId('emoji-option')[3]);
    expect(actions.react).toHaveBeenCalledWith('m1', '🎉', true);
    expect(screen.queryByTestId('emoji-picker')).toBeNull();
  });

  it('has a keyboard menu with the message actions, and gives focus back when it closes', () => {
    const { actions, onEditingChange } = setup([m(1, alice, 'mine')]);
    const more = screen.getByTestId('action-more');
    fireEvent.click(more);
    const menu = screen.getByRole('menu');
    const items = within(menu).getAllByRole('menuitem');
    expect(items.map((i) => i.textContent)).toEqual(['Add reaction', 'Edit message', 'Copy text', 'Delete message']);
    expect(document.activeElement).toBe(items[0]);
    fireEvent.keyDown(menu, { key: 'ArrowDown' });
    expect(document.activeElement).toBe(items[1]);
    fireEvent.keyDown(menu, { key: 'End' });
    expect(document.activeElement).toBe(items[3]);
    fireEvent.keyDown(window, { key: 'Escape' });
    expect(screen.queryByRole('menu')).toBeNull();
    expect(document.activeElement).toBe(more);

    fireEvent.click(more);
    fireEvent.click(screen.getByTestId('menu-edit'));
    expect(onEditingChange).toHaveBeenCalledWith('m1');
    fireEvent.click(more);
    fireEvent.click(screen.getByTestId('menu-delete'));
    expect(actions.requestDelete).toHaveBeenCalledWith('m1');
  });

  it('opens the menu with a long press on touch screens', () => {
    vi.useFakeTimers();
    try {
      setup([m(1, bob, 'press me')]);
      const bubble = screen.getByTestId('message-body').parentElement!;
      fireEvent.touchStart(bubble, { touches: [{ clientX: 10, clientY: 10 }] });
      act(() => vi.advanceTimersByTime(300));
      expect(screen.queryByRole('menu')).toBeNull();
      act(() => vi.advanceTimersByTime(300));
      expect(screen.getByRole('menu')).toBeTruthy();
    } finally {
      vi.useRealTimers();
    }
  });

  it('does not open the menu when the finger moves (a scroll)', () => {
    vi.useFakeTimers();
    try {
      setup([m(1, bob, 'scroll past')]);
      const bubble = screen.getByTestId('message-body').parentElement!;
      fireEvent.touchStart(bubble, { touches: [{ clientX: 10, clientY: 10 }] });
      fireEvent.touchMove(bubble, { touches: [{ clientX: 10, clientY: 60 }] });
      act(() => vi.advanceTimersByTime(1000));
      expect(screen.queryByRole('menu')).toBeNull();
    } finally {
      vi.useRealTimers();
    }
  });

  it('edits in place: Enter saves, Escape cancels', () => {
    const { actions, onEditingChange, unmount } = setup([m(1, alice, 'helo')], { editingId: 'm1' });
    const input = screen.getByTestId('message-editor-input') as HTMLTextAreaElement;
    expect(input.value).toBe('helo');
    expect(document.activeElement).toBe(input);
    fireEvent.change(input, { target: { value: 'hello' } });
    fireEvent.keyDown(input, { key: 'Enter' });
    expect(actions.edit).toHaveBeenCalledWith('m1', 'hello');
    expect(onEditingChange).toHaveBeenCalledWith(null);
    unmount();

    const second = setup([m(1, alice, 'helo')], { editingId: 'm1' });
    fireEvent.keyDown(screen.getByTestId('message-editor-input'), { key: 'Escape' });
    expect(second.onEditingChange).toHaveBeenCalledWith(null);
    expect(second.actions.edit).not.toHaveBeenCalled();
  });

  it('highlights mentions of the user and marks the message', () => {
    setup([m(1, bob, 'hey @Alice, and @bob'), m(2, bob, 'nothing for you')]);
    const [mentioned, plain] = screen.getAllByTestId('message');
    expect(mentioned.dataset.mention).toBe('true');
    expect(within(mentioned).getAllByTestId('mention-me').map((e) => e.textContent)).toEqual(['@Alice']);
    expect(plain.dataset.mention).toBeUndefined();
  });

  it('walks the messages with the arrow keys; only the focused one’s actions are tabbable', () => {
    setup([m(1, bob, 'one'), m(2, bob, 'two')]);
    const log = screen.getByTestId('message-list');
    const [one, two] = screen.getAllByTestId('message');
    expect(within(two).getByTestId('action-more').tabIndex).toBe(-1);
    log.focus();
    fireEvent.keyDown(log, { key: 'ArrowUp' });
    expect(document.activeElement).toBe(two);
    expect(within(two).getByTestId('action-more').tabIndex).toBe(0);
    fireEvent.keyDown(two, { key: 'ArrowUp' });
    expect(document.activeElement).toBe(one);
    expect(within(two).getByTestId('action-more').tabIndex).toBe(-1);
  });
});
