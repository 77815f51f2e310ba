import { afterEach, describe, expect, it, vi } from 'vitest';
import { notificationPermission, plainPreview, requestNotificationPermission, shouldOfferNotifications, showMentionNotification } from './notify';

afterEach(() => {
  vi.unstubAllGlobals();
});

class FakeNotification {
  static permission: NotificationPermission = 'default';
  static requestPermission = vi.fn(async () => {
    FakeNotification.permission = 'granted';
    return 'granted' as NotificationPermission;
  });
  static shown: FakeNotification[] = [];
  onclick: (() => void) | null = null;
  closed = false;
  constructor(
    readonly title: string,
    readonly options: NotificationOptions,
  ) {
    FakeNotification.shown.push(this);
  }
  close() {
    this.closed = true;
  }
}

describe('notifications', () => {
  it('offers them only when undecided, wanted, not dismissed, and after the user engaged', () => {
    expect(shouldOfferNotifications('default', true, false, true)).toBe(true);
    expect(shouldOfferNotifications('default', true, false, false)).toBe(false); // page load
    expect(shouldOfferNotifications('granted', true, false, true)).toBe(false);
    expect(shouldOfferNotifications('denied', true, false, true)).toBe(false);
    expect(shouldOfferNotifications('unsupported', true, false, true)).toBe(false);
    expect(shouldOfferNotifications('default', false, false, true)).toBe(false);
    expect(shouldOfferNotifications('default', true, true, true)).toBe(false);
  });

  it('knows when the browser has no Notification API', async () => {
    vi.stubGlobal('Notification', undefined);
    expect(notificationPermission()).toBe('unsupported');
    expect(await requestNotificationPermission()).toBe('unsupported');
    expect(showMentionNotification({ room: 'general', from: 'bob', body: 'hi', tag: 't' }, () => {})).toBe(false);
  });

  it('asks for permission and shows a mention that focuses the room when clicked', async () => {
    FakeNotification.permission = 'default';
    FakeNotification.shown = [];
    vi.stubGlobal('Notification', FakeNotification);
    expect(notificationPermission()).toBe('default');
    expect(showMentionNotification({ room: 'general', from: 'bob', body: 'hi', tag: 't' }, () => {})).toBe(false);
    expect(await requestNotificationPermission()).toBe('granted');
    const onClick = vi.fn();
    expect(showMentionNotification({ room: 'dev', from: 'bob', body: '**@alice** look at `this`', tag: 'm1' }, onClick)).toBe(true);
    const n = FakeNotification.shown[0];
    expect(n.title).toBe('bob mentioned you in #dev');
    expect(n.options).toMatchObject({ body: '@alice look at this', tag: 'm1' });
    n.onclick?.();
    expect(onClick).toHaveBeenCalled();
    expect(n.closed).toBe(true);
  });

  it('previews markdown as one line of text', () => {
    expect(plainPreview('see\n```js\nx()\n```\n> quoted _it_')).toBe('see [code] quoted it');
    expect(plainPreview('x'.repeat(300))).toHaveLength(140);
  });
});
