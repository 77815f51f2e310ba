import { expect, test } from '@playwright/test';
import { messagesWithBody, openAs, openRoom, send } from './helpers';
import { serverForThisFile } from './server';

const server = serverForThisFile();

test('rooms keep their messages apart, live in the URL, and follow back/forward', async ({ browser }) => {
  const alice = await openAs(browser, server().url, 'alice');
  const a = alice.page;

  // Invalid names are refused before they reach the server().
  await a.getByTestId('browse-rooms').click();
  await a.getByTestId('room-input').fill('Not Valid!');
  await a.getByTestId('room-input').press('Enter');
  await expect(a.getByTestId('room-error')).toBeVisible();
  await expect(a.getByTestId('room-create')).toHaveCount(0);

  // A new name is not created by a single Enter (a typo would make a room): the second does.
  await a.getByTestId('room-input').fill('project-x');
  await a.getByTestId('room-input').press('Enter');
  await expect(a.getByTestId('room-help')).toContainText('Press Enter again to create it');
  await expect(a).toHaveURL(/\/r\/general$|\/$/);
  await a.getByTestId('room-input').press('Enter');
  await expect(a).toHaveURL(/\/r\/project-x$/);
  await expect(a.getByTestId('room-title')).toHaveText('#project-x');
  await expect(a.getByTestId('room-link').and(a.locator('[data-room="project-x"]'))).toHaveAttribute('aria-current', 'page');

  // bob opens the room by its URL.
  const bob = await openAs(browser, server().url, 'bob', '/r/project-x');
  const b = bob.page;
  await expect(b.getByTestId('room-title')).toHaveText('#project-x');
  await expect(a.locator('[data-testid="online-user"][data-name="bob"]')).toBeVisible();

  await send(a, 'secret plans');
  await expect(messagesWithBody(b, 'secret plans')).toHaveCount(1);

  // alice switches to general and talks there.
  await a.locator('[data-testid="room-link"][data-room="general"]').click();
  await expect(a).toHaveURL(/\/r\/general$/);
  await expect(a.getByTestId('room-title')).toHaveText('#general');
  await send(a, 'general chatter');
  await expect(messagesWithBody(a, 'general chatter')).toHaveAttribute('data-status', 'sent');
  await expect(messagesWithBody(a, 'secret plans')).toHaveCount(0);

  // bob, still in project-x, never sees the general message.
  await send(b, 'reply in project-x');
  await expect(messagesWithBody(b, 'reply in project-x')).toHaveAttribute('data-status', 'sent');
  await expect(messagesWithBody(b, 'general chatter')).toHaveCount(0);

  // alice is in both rooms: the one not shown counts unread messages.
  const unread = a.locator('[data-testid="room-link"][data-room="project-x"] [data-testid="room-unread"]');
  await expect(unread).toHaveText('1');

  // Back goes to project-x (and clears its unread count), forward to general.
  await a.goBack();
  await expect(a).toHaveURL(/\/r\/project-x$/);
  await expect(a.getByTestId('room-title')).toHaveText('#project-x');
  await expect(a.getByTestId('message-body')).toHaveText(['secret plans', 'reply in project-x']);
  await expect(unread).toHaveCount(0);
  await a.goForward();
  await expect(a).toHaveURL(/\/r\/general$/);
  await expect(a.getByTestId('message-body')).toHaveText(['general chatter']);

  // A direct load of /r/general shows general's history only.
  const carol = await openAs(browser, server().url, 'carol', '/r/general');
  await expect(carol.page.getByTestId('message-body')).toHaveText(['general chatter']);

  // Leaving a room removes it and tells the others.
  await a.locator('[data-testid="room-link"][data-room="project-x"]').click();
  await a.getByRole('button', { name: 'Leave #project-x' }).click();
  await expect(a).toHaveURL(/\/r\/general$/);
  await expect(a.locator('[data-testid="room-link"][data-room="project-x"]')).toHaveCount(0);
  await expect(b.getByTestId('notice').filter({ hasText: 'alice left' })).toHaveCount(1);

  for (const c of [alice, bob, carol]) await c.context.close();
});

test('the room browser lists rooms with members and topics, joins with a click, and creates only on request', async ({ browser }) => {
  const dana = await openAs(browser, server().url, 'dana');
  const d = dana.page;
  await openRoom(d, 'book-club');
  await send(d, 'first meeting on Friday');

  const eve = await openAs(browser, server().url, 'eve');
  const e = eve.page;
  await e.getByTestId('browse-rooms').click();
  const row = e.locator('[data-testid="browse-room"][data-room="book-club"]');
  await expect(row).toContainText('1 member');
  // Typing filters; a name that exists offers no "Create".
  await e.getByTestId('room-input').fill('book');
  await expect(e.getByTestId('browse-room')).toHaveCount(1);
  await e.getByTestId('room-input').fill('book-club');
  await expect(e.getByTestId('room-create')).toHaveCount(0);
  await row.click();
  await expect(e).toHaveURL(/\/r\/book-club$/);
  await expect(messagesWithBody(e, 'first meeting on Friday')).toHaveCount(1);

  // A typo offers "Create #…" and makes nothing until it is chosen.
  await e.getByTestId('browse-rooms').click();
  await e.getByTestId('room-input').fill('bok-club');
  await expect(e.getByTestId('room-create')).toHaveText(/Create\s*#bok-club/);
  await e.getByTestId('browse-close').click();
  await expect(e.getByTestId('browse-dialog')).toHaveCount(0);
  await expect(e.locator('[data-testid="room-link"][data-room="bok-club"]')).toHaveCount(0);
  const rooms = await (await e.request.get('/api/rooms')).json();
  expect(rooms.rooms.map((r: { name: string }) => r.name)).not.toContain('bok-club');

  await dana.context.close();
  await eve.context.close();
});

test('an invalid /r/ URL says so instead of showing #general', async ({ browser }) => {
  const context = await browser.newContext({ baseURL: server().url });
  const f = await context.newPage();
  await f.goto('/r/Not%20A%20Room!');
  await f.getByTestId('name-input').fill('frank');
  await f.getByTestId('name-submit').click();
  await expect(f.getByTestId('connection-status')).toHaveAttribute('data-status', 'online');
  await expect(f.getByTestId('invalid-room')).toContainText('is not a room name');
  await expect(f.getByTestId('room-title')).toHaveText('Room not found');
  await expect(f.getByTestId('message-list')).toHaveCount(0);
  await f.getByTestId('invalid-room-general').click();
  await expect(f).toHaveURL(/\/r\/general$/);
  await expect(f.getByTestId('room-title')).toHaveText('#general');
  await context.close();
});
