import { expect, test } from '@playwright/test';
import { expectOnline, messagesWithBody, openAs, send } from './helpers';
import { serverForThisFile } from './server';

const server = serverForThisFile();

test('the UI reconnects by itself after the server restarts, and can send again', async ({ browser }) => {
  const alice = await openAs(browser, server().url, 'alice');
  const bob = await openAs(browser, server().url, 'bob');
  await send(alice.page, 'before the restart');
  await expect(messagesWithBody(bob.page, 'before the restart')).toHaveCount(1);

  await server().stop();
  for (const { page } of [alice, bob]) {
    await expect(page.getByTestId('connection-status')).toHaveAttribute('data-status', 'reconnecting');
    await expect(page.getByTestId('connection-status')).toContainText('Reconnecting');
    await expect(page.getByTestId('composer-input')).toBeEnabled();
    await expect(page.getByTestId('composer-reason')).toContainText('Connection lost');
  }

  await server().startAgain();
  // Backoff is capped at 10 s; the first attempts after a short outage are well below it.
  for (const { page } of [alice, bob]) {
    await expect(page.getByTestId('connection-status')).toHaveAttribute('data-status', 'online', { timeout: 20_000 });
    await expectOnline(page);
  }

  await send(alice.page, 'after the restart');
  await expect(messagesWithBody(alice.page, 'after the restart')).toHaveAttribute('data-status', 'sent');
  await expect(messagesWithBody(bob.page, 'after the restart')).toHaveCount(1);
  await send(bob.page, 'welcome back');
  await expect(messagesWithBody(alice.page, 'welcome back')).toHaveCount(1);

  // Recovery replayed nothing twice.
  for (const { page } of [alice, bob]) {
    await expect(page.getByTestId('message-body')).toHaveText(['before the restart', 'after the restart', 'welcome back']);
  }
  await alice.context.close();
  await bob.context.close();
});
