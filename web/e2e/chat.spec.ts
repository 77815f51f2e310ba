import { expect, test } from '@playwright/test';
import { messagesWithBody, onlineUser, openAs, send } from './helpers';
import { serverForThisFile } from './server';

const server = serverForThisFile();

test('two people see each other, chat both ways, and see one leave', async ({ browser }) => {
  const alice = await openAs(browser, server().url, 'alice');
  await expect(alice.page).toHaveTitle(/#general/);
  const bob = await openAs(browser, server().url, 'bob');

  // Presence: both lists have both names, and alice was told that bob joined.
  await expect(onlineUser(alice.page, 'bob')).toBeVisible();
  await expect(onlineUser(bob.page, 'alice')).toBeVisible();
  await expect(alice.page.getByTestId('online-count')).toHaveText('2');
  await expect(bob.page.getByTestId('online-count')).toHaveText('2');
  await expect(alice.page.getByTestId('notice').filter({ hasText: 'bob joined' })).toHaveCount(1);

  // alice -> bob
  await send(alice.page, 'Hi bob! 👋');
  const atBob = messagesWithBody(bob.page, 'Hi bob! 👋');
  await expect(atBob).toHaveCount(1);
  await expect(atBob).toHaveAttribute('data-own', 'false');
  await expect(atBob.getByTestId('message-author')).toHaveText('alice');
  // The time in the browser's locale format (12 or 24 hours), once for the group.
  await expect(atBob.getByTestId('message-time')).toHaveText(/^\d{1,2}:\d\d( ?[AP]M)?$/);
  const atAlice = messagesWithBody(alice.page, 'Hi bob! 👋');
  await expect(atAlice).toHaveAttribute('data-own', 'true');
  await expect(atAlice).toHaveAttribute('data-status', 'sent');

  // bob -> alice, with a newline and markup that must stay text.
  const typed = 'Hello alice\n<img src=x onerror="document.title=\'pwned\'">';
  await bob.page.getByTestId('composer-input').fill('Hello alice');
  await bob.page.getByTestId('composer-input').press('Shift+Enter');
  await bob.page.getByTestId('composer-input').pressSequentially('<img src=x onerror="document.title=\'pwned\'">');
  // Typing shows up on the other side while bob writes.
  await expect(alice.page.getByTestId('typing-indicator')).toHaveText('bob is typing…');
  await bob.page.getByTestId('composer-input').press('Enter');
  const reply = messagesWithBody(alice.page, typed);
  await expect(reply).toHaveCount(1);
  await expect(reply.locator('img')).toHaveCount(0);
  await expect(alice.page).not.toHaveTitle('pwned');
  await expect(alice.page.getByTestId('typing-indicator')).toHaveText('');

  // Both sides show the same two messages, in the same order, once each.
  for (const p of [alice.page, bob.page]) {
    await expect(p.getByTestId('message-body')).toHaveText(['Hi bob! 👋', typed]);
  }

  // bob closes his browser: alice sees him leave.
  await bob.context.close();
  await expect(alice.page.getByTestId('notice').filter({ hasText: 'bob left' })).toHaveCount(1);
  await expect(onlineUser(alice.page, 'bob')).toHaveCount(0);
  await expect(alice.page.getByTestId('online-count')).toHaveText('1');

  await alice.context.close();
});

test('the name is validated, remembered, and can be changed', async ({ browser }) => {
  const context = await browser.newContext({ baseURL: server().url });
  const page = await context.newPage();
  await page.goto('/');
  await page.getByTestId('name-input').fill('x'.repeat(33));
  await page.getByTestId('name-submit').click();
  await expect(page.getByTestId('name-error')).toContainText('32');
  await page.getByTestId('name-input').fill('  carol  ');
  await page.getByTestId('name-submit').click();
  await expect(page.getByTestId('me-name')).toHaveText('carol');
  await expect(page.getByTestId('connection-status')).toHaveAttribute('data-status', 'online');

  await page.reload();
  await expect(page.getByTestId('name-dialog')).toHaveCount(0);
  await expect(page.getByTestId('me-name')).toHaveText('carol');

  await page.getByTestId('me-button').click();
  await page.getByTestId('name-input').fill('caroline');
  await page.getByTestId('name-submit').click();
  await expect(page.getByTestId('me-name')).toHaveText('caroline');
  await expect(page.getByTestId('connection-status')).toHaveAttribute('data-status', 'online');
  await expect(page.getByTestId('online-list').getByTestId('online-user')).toHaveCount(1);
  await expect(page.locator('[data-testid="online-user"][data-name="caroline"]')).toBeVisible();
  await context.close();
});
