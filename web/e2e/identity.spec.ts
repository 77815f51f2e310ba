// People, not names: stable user ids with a session in a cookie, renames in place, direct
// messages and read positions across reloads (docs/protocol.md, "Who you are: users and
// tokens", "Direct messages" and the `read` objects), against the real server().

import { expect, test, type BrowserContext, type Page } from '@playwright/test';
import { expectOnline, messagesWithBody, openAs, openRoom, send } from './helpers';
import { serverForThisFile } from './server';

const server = serverForThisFile();

function people(page: Page) {
  return page.getByTestId('online-list').getByTestId('online-user');
}

/**
 * Resolves once the page tells the server its read position in `room`, on a socket opened
 * after this call (call it before the reload or navigation that opens one).
 */
function readSent(page: Page, room: string): Promise<void> {
  return new Promise((resolve) => {
    const watch = (ws: import('@playwright/test').WebSocket) =>
      ws.on('framesent', (f) => {
        const text = typeof f.payload === 'string' ? f.payload : f.payload.toString();
        if (text.split('\n').some((line) => line.includes('"type":"read"') && line.includes(`"room":"${room}"`))) resolve();
      });
    page.on('websocket', watch);
  });
}

/**
 * Every WebSocket URL the page opens, and who each welcome says the person is (and the token
 * it carries for command-line clients). Call before the page's first navigation.
 */
function watchSockets(page: Page) {
  const seen = { urls: [] as string[], welcomes: [] as { id: string; name: string; token: string }[] };
  page.on('websocket', (ws) => {
    seen.urls.push(ws.url());
    ws.on('framereceived', (f) => {
      const text = typeof f.payload === 'string' ? f.payload : f.payload.toString();
      for (const line of text.split('\n')) {
        if (!line.includes('"type":"welcome"')) continue;
        const w = JSON.parse(line) as { user: { id: string; name: string }; token: string };
        seen.welcomes.push({ ...w.user, token: w.token });
      }
    });
  });
  return {
    ...seen,
    /** The person of the latest welcome, once there are n. */
    async person(n: number) {
      await expect.poll(() => seen.welcomes.length).toBeGreaterThanOrEqual(n);
      return seen.welcomes[seen.welcomes.length - 1];
    },
    noTokenInUrls() {
      expect(seen.urls.length).toBeGreaterThan(0);
      for (const u of seen.urls) expect(u).not.toContain('token=');
    },
  };
}

async function storedToken(page: Page): Promise<string | null> {
  return page.evaluate(() => window.localStorage.getItem('distchat.token'));
}

async function sessionCookie(context: BrowserContext) {
  return (await context.cookies()).find((c) => c.name === 'distchat_session');
}

function roomUnread(page: Page, room: string) {
  return page.locator(`[data-testid="room-link"][data-room="${room}"] [data-testid="room-unread"]`);
}

test('two people called Sam are two people', async ({ browser }) => {
  const a = await openAs(browser, server().url, 'Sam');
  const b = await openAs(browser, server().url, 'Sam');

  // Both are online, each once, told apart; each list says which one is "you".
  for (const p of [a.page, b.page]) {
    await expect(people(p)).toHaveCount(2);
    await expect(p.getByTestId('online-count')).toHaveText('2');
    await expect(people(p).filter({ hasText: 'you' })).toHaveCount(1);
    const labels = await people(p).evaluateAll((els) => els.map((el) => el.getAttribute('data-label')));
    expect(new Set(labels).size).toBe(2);
    expect(labels.every((l) => l?.startsWith('Sam · '))).toBe(true);
  }

  await send(a.page, 'I am the first Sam');
  await send(b.page, 'and I am the second');
  // Each sees the other's message as someone else's: left-aligned, no "Sent", a tagged name.
  const atB = messagesWithBody(b.page, 'I am the first Sam');
  await expect(atB).toHaveAttribute('data-own', 'false');
  await expect(atB.getByLabel('Sent')).toHaveCount(0);
  await expect(atB.getByTestId('message-author')).toHaveText(/^Sam · /);
  const atA = messagesWithBody(a.page, 'and I am the second');
  await expect(atA).toHaveAttribute('data-own', 'false');
  await expect(messagesWithBody(a.page, 'I am the first Sam')).toHaveAttribute('data-own', 'true');
  await expect(messagesWithBody(a.page, 'I am the first Sam').getByLabel('Sent')).toBeVisible();

  // A reload keeps one's own messages one's own (the token), and makes no join/leave notices.
  await a.page.reload();
  await expectOnline(a.page);
  await expect(messagesWithBody(a.page, 'I am the first Sam')).toHaveAttribute('data-own', 'true');
  await expect(messagesWithBody(a.page, 'and I am the second')).toHaveAttribute('data-own', 'false');
  await expect(b.page.getByTestId('notice').filter({ hasText: /left|joined/ })).toHaveCount(0);

  // A second tab of the first Sam is the same person: still two people, and the first Sam is
  // there on two devices (no join for a second tab: the other Sam's list is not told).
  const tab2 = await a.context.newPage();
  await tab2.goto('/');
  await expectOnline(tab2);
  await expect(people(tab2)).toHaveCount(2);
  await expect(people(tab2).filter({ hasText: 'you' }).getByTestId('online-devices')).toHaveText('2 devices');
  await expect(people(b.page)).toHaveCount(2);
  await expect(messagesWithBody(tab2, 'I am the first Sam')).toHaveAttribute('data-own', 'true');

  await a.context.close();
  await b.context.close();
});

test('a rename is one event: the other browser updates in place, with no ghost', async ({ browser }) => {
  const alice = await openAs(browser, server().url, 'alice');
  const bob = await openAs(browser, server().url, 'Bob');
  await send(bob.page, 'hello from Bob');
  await expect(messagesWithBody(alice.page, 'hello from Bob')).toHaveCount(1);
  const presenceNotices = alice.page.getByTestId('notice').filter({ hasText: /left|joined/ });
  const before = await presenceNotices.count();

  await bob.page.getByTestId('me-button').click();
  await bob.page.getByTestId('name-input').fill('Robert');
  await bob.page.getByTestId('name-submit').click();
  await expect(bob.page.getByTestId('name-dialog')).toHaveCount(0);
  await expect(bob.page.getByTestId('me-name')).toHaveText('Robert');

  await expect(alice.page.getByTestId('notice').filter({ hasText: 'Bob is now Robert' })).toHaveCount(1);
  await expect(people(alice.page)).toHaveCount(2);
  await expect(alice.page.locator('[data-testid="online-user"][data-name="Robert"]')).toBeVisible();
  await expect(alice.page.locator('[data-testid="online-user"][data-name="Bob"]')).toHaveCount(0);
  // Earlier messages show the current name.
  await expect(messagesWithBody(alice.page, 'hello from Bob').getByTestId('message-author')).toHaveText('Robert');
  // No reconnect: no leave/join for it.
  await expect(presenceNotices).toHaveCount(before);

  // After a reload Bob's earlier messages are still his, under the new name.
  await bob.page.reload();
  await expectOnline(bob.page);
  await expect(bob.page.getByTestId('me-name')).toHaveText('Robert');
  await expect(messagesWithBody(bob.page, 'hello from Bob')).toHaveAttribute('data-own', 'true');

  await alice.context.close();
  await bob.context.close();
});

test('a direct message between two of three people is invisible to the third', async ({ browser }) => {
  const alice = await openAs(browser, server().url, 'alice');
  const bob = await openAs(browser, server().url, 'bob');
  const carol = await openAs(browser, server().url, 'carol');

  await alice.page.locator('[data-testid="online-person"]', { hasText: 'bob' }).click();
  await alice.page.getByTestId('menu-dm').click();
  await expect(alice.page).toHaveURL(/\/r\/dm-/);
  await expect(alice.page.getByTestId('room-title')).toContainText('bob');
  const dmPath = new URL(alice.page.url()).pathname;
  await send(alice.page, 'just between us');

  // bob gets the conversation in his sidebar, with an unread badge, and can answer.
  const atBob = bob.page.getByTestId('dm-link').filter({ hasText: 'alice' });
  await expect(atBob).toBeVisible();
  await expect(atBob.getByTestId('dm-unread')).toHaveText('1');
  await atBob.click();
  await expect(messagesWithBody(bob.page, 'just between us')).toHaveCount(1);
  await send(bob.page, 'sure');
  await expect(messagesWithBody(alice.page, 'sure')).toHaveCount(1);

  // carol sees nothing of it, and its URL tells her it is private.
  await expect(carol.page.getByTestId('dm-link')).toHaveCount(0);
  await carol.page.goto(dmPath);
  await expect(carol.page.getByTestId('forbidden')).toBeVisible();
  await expect(carol.page.getByTestId('dm-link')).toHaveCount(0);
  await expect(messagesWithBody(carol.page, 'just between us')).toHaveCount(0);

  // The DM survives a reload, under its URL.
  await bob.page.reload();
  await expectOnline(bob.page);
  await expect(messagesWithBody(bob.page, 'sure')).toHaveCount(1);

  for (const x of [alice, bob, carol]) await x.context.close();
});

test('an unread count survives a reload, and is gone once the room was read', async ({ browser }) => {
  const a = await openAs(browser, server().url, 'alice');
  const b = await openAs(browser, server().url, 'bob');
  await openRoom(a.page, 'news');
  await openRoom(b.page, 'news');
  await b.page.locator('[data-testid="room-link"][data-room="general"]').click();

  await send(a.page, 'first news');
  await send(a.page, 'second news');
  await expect(roomUnread(b.page, 'news')).toHaveText('2');

  const read = readSent(b.page, 'news');
  await b.page.reload();
  await expectOnline(b.page);
  await expect(roomUnread(b.page, 'news')).toHaveText('2');

  // Opened (and so read): the divider shows where the new messages start; the position goes
  // to the server, and a reload no longer counts them.
  await b.page.locator('[data-testid="room-link"][data-room="news"]').click();
  await expect(b.page.getByTestId('new-divider')).toBeVisible();
  await read;
  await b.page.locator('[data-testid="room-link"][data-room="general"]').click();
  await b.page.reload();
  await expectOnline(b.page);
  await expect(b.page.locator('[data-testid="room-link"][data-room="news"]')).toBeVisible();
  await expect(roomUnread(b.page, 'news')).toHaveCount(0);

  await a.context.close();
  await b.context.close();
});

test('the session is an HttpOnly cookie: no token in a WebSocket URL or in localStorage, and a reload is the same person', async ({ browser }) => {
  const context = await browser.newContext({ baseURL: server().url });
  const page = await context.newPage();
  const sockets = watchSockets(page);
  await page.goto('/');
  await page.getByTestId('name-input').fill('Ines');
  await page.getByTestId('name-submit').click();
  await expectOnline(page);
  const first = await sockets.person(1);

  const cookie = await sessionCookie(context);
  expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/' });
  expect(await page.evaluate(() => document.cookie)).not.toContain('distchat_session');
  expect(await storedToken(page)).toBeNull();

  await page.reload();
  await expectOnline(page);
  expect((await sockets.person(2)).id).toBe(first.id);
  await expect(page.getByTestId('me-name')).toHaveText('Ines');
  sockets.noTokenInUrls();
  await context.close();
});

test('a token a host page put into localStorage signs that person in, and is gone after the exchange', async ({ browser }) => {
  // A token of a person (the server signed it): what a host page's sign-in would hand over.
  const host = await browser.newContext({ baseURL: server().url });
  const hostPage = await host.newPage();
  const origin = watchSockets(hostPage);
  await hostPage.goto('/');
  await hostPage.getByTestId('name-input').fill('Kofi');
  await hostPage.getByTestId('name-submit').click();
  await expectOnline(hostPage);
  const kofi = await origin.person(1);
  await host.close();

  const context = await browser.newContext({
    baseURL: server().url,
    storageState: { cookies: [], origins: [{ origin: server().url, localStorage: [{ name: 'distchat.token', value: kofi.token }] }] },
  });
  const page = await context.newPage();
  const sockets = watchSockets(page);
  const exchanged = page.waitForResponse((r) => r.url().endsWith('/api/session') && r.request().method() === 'POST');
  await page.goto('/');
  expect((await exchanged).status()).toBe(200);
  // The server knows the name: none is asked for.
  await expectOnline(page);
  expect((await sockets.person(1)).id).toBe(kofi.id);
  await expect(page.getByTestId('me-name')).toHaveText('Kofi');
  expect(await storedToken(page)).toBeNull();

  await page.reload();
  await expectOnline(page);
  expect((await sockets.person(2)).id).toBe(kofi.id);
  sockets.noTokenInUrls();
  await context.close();
});

test('sign-out asks first, then makes a new guest, who stays that person after a reload', async ({ browser }) => {
  const context = await browser.newContext({ baseURL: server().url });
  const page = await context.newPage();
  const sockets = watchSockets(page);
  await page.goto('/');
  await page.getByTestId('name-input').fill('Lea');
  await page.getByTestId('name-submit').click();
  await expectOnline(page);
  const before = await sockets.person(1);

  await page.getByTestId('settings-button').click();
  await page.getByTestId('menu-sign-out').click();
  await expect(page.getByTestId('confirm-dialog')).toContainText('You will be a new person here: your direct messages and unread positions stay with the old identity');
  await page.getByTestId('confirm-ok').click();
  await expect(page.getByTestId('toast').filter({ hasText: 'You signed out' })).toBeVisible();
  await expectOnline(page);
  const after = await sockets.person(2);
  expect(after.id).not.toBe(before.id);
  expect(after.name).toBe('Lea');

  await page.reload();
  await expectOnline(page);
  expect((await sockets.person(3)).id).toBe(after.id);
  sockets.noTokenInUrls();
  await context.close();
});

test('sign-out everywhere in one browser ends the session of the same person in another, and in another tab', async ({ browser }) => {
  const first = await browser.newContext({ baseURL: server().url });
  const page = await first.newPage();
  const sockets = watchSockets(page);
  await page.goto('/');
  await page.getByTestId('name-input').fill('Mia');
  await page.getByTestId('name-submit').click();
  await expectOnline(page);
  const mia = await sockets.person(1);

  // The same person in a second browser (its cookie) and in a second tab of the first.
  const second = await browser.newContext({ baseURL: server().url, storageState: await first.storageState() });
  const other = await second.newPage();
  const elsewhere = watchSockets(other);
  await other.goto('/');
  await expectOnline(other);
  expect((await elsewhere.person(1)).id).toBe(mia.id);
  const tab = await first.newPage();
  const inTab = watchSockets(tab);
  await tab.goto('/');
  await expectOnline(tab);
  expect((await inTab.person(1)).id).toBe(mia.id);

  await page.getByTestId('settings-button').click();
  await page.getByTestId('menu-sign-out-everywhere').click();
  await expect(page.getByTestId('confirm-dialog')).toContainText('This ends your session on every device and browser where you are Mia, this one included.');
  await page.getByTestId('confirm-ok').click();
  await expect(page.getByTestId('toast').filter({ hasText: 'You signed out on every device' })).toBeVisible();
  await expectOnline(page);
  const after = await sockets.person(2);
  expect(after.id).not.toBe(mia.id);

  // The other browser was connected: the server ended its session; it says so once and is a
  // new guest (not the sign-in screen), who stays that person after a reload.
  await expect(other.getByTestId('toast').filter({ hasText: 'Your session was ended' })).toHaveCount(1);
  await expectOnline(other);
  const guest = await elsewhere.person(2);
  expect(guest.id).not.toBe(mia.id);
  expect(guest.id).not.toBe(after.id);
  await expect(other.getByTestId('signin-needed')).toHaveCount(0);
  await other.reload();
  await expectOnline(other);
  expect((await elsewhere.person(3)).id).toBe(guest.id);

  // The other tab of the first browser too.
  await expect(tab.getByTestId('toast').filter({ hasText: 'Your session was ended' })).toHaveCount(1);
  await expectOnline(tab);
  expect((await inTab.person(2)).id).not.toBe(mia.id);

  await first.close();
  await second.close();
});
