import { expect, test } from '@playwright/test';
import { messagesWithBody, openAs, send } from './helpers';
import { DistchatServer } from './server';

let server: DistchatServer;

test.beforeAll(async () => {
  server = await DistchatServer.start();
});

test.afterAll(async () => {
  await server?.dispose();
});

test('rooms keep their messages apart, live in the URL, and follow back/forward', async ({ browser }) => {
  const alice = await openAs(browser, server.url, 'alice');
  const a = alice.page;

  // Invalid names are refused before they reach the server.
  await a.getByTestId('room-input').fill('Not Valid!');
  await a.getByTestId('room-input').press('Enter');
  await expect(a.getByTestId('room-error')).toBeVisible();

  await a.getByTestId('room-input').fill('project-x');
  await a.getByTestId('room-input').press('Enter');
  await expect(a).toHaveURL(/\/r\/project-x$/);
  await expect(a.getByTestId('room-title')).toHaveText('#project-x');
  await expect(a.getByTestId('room-link').and(a.locator('[data-room="project-x"]'))).toHaveAttribute('aria-current', 'page');

  // bob opens the room by its URL.
  const bob = await openAs(browser, server.url, 'bob', '/r/project-x');
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
  const carol = await openAs(browser, server.url, 'carol', '/r/general');
  await expect(carol.page.getByTestId('message-body')).toHaveText(['general chatter']);

  // Leaving a room removes it and tells the others.
  await a.locator('[data-testid="room-link"][data-room="project-x"]').click();
  await a.getByRole('button', { name: 'Leave #project-x' }).click();
  await expect(a).toHaveURL(/\/r\/general$/);
  await expect(a.locator('[data-testid="room-link"][data-room="project-x"]')).toHaveCount(0);
  await expect(b.getByTestId('notice').filter({ hasText: 'alice left' })).toHaveCount(1);

  for (const c of [alice, bob, carol]) await c.context.close();
});
