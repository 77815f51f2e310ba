import { expect, test } from '@playwright/test';
import { expectOnline, messagesWithBody, openAs, send } from './helpers';
import { serverForThisFile } from './server';

const server = serverForThisFile();

test('a message sent while the other browser is offline appears exactly once after it reconnects', async ({ browser }) => {
  const alice = await openAs(browser, server().url, 'alice');
  const bob = await openAs(browser, server().url, 'bob');
  await send(alice.page, 'are you there?');
  await expect(messagesWithBody(bob.page, 'are you there?')).toHaveCount(1);

  await bob.context.setOffline(true);
  await expect(bob.page.getByTestId('connection-status')).not.toHaveAttribute('data-status', 'online');
  // The composer stays usable: what bob writes now waits, in order, for the connection.
  await expect(bob.page.getByTestId('composer-input')).toBeEnabled();
  await expect(bob.page.getByTestId('composer-reason')).toContainText('sent when');
  await send(bob.page, 'written offline 1');
  await send(bob.page, 'written offline 2');
  await expect(messagesWithBody(bob.page, 'written offline 2')).toHaveAttribute('data-status', 'pending');
  // The server noticed bob's socket closing.
  await expect(alice.page.getByTestId('notice').filter({ hasText: 'bob left' })).toHaveCount(1);

  await send(alice.page, 'sent while you were away');
  await send(alice.page, 'and another one');
  await expect(messagesWithBody(alice.page, 'and another one')).toHaveAttribute('data-status', 'sent');
  await expect(messagesWithBody(bob.page, 'sent while you were away')).toHaveCount(0);

  await bob.context.setOffline(false);
  await expectOnline(bob.page);
  await expect(messagesWithBody(bob.page, 'sent while you were away')).toHaveCount(1);
  // What bob wrote offline went out after the recovery, in order, once.
  await expect(messagesWithBody(bob.page, 'written offline 2')).toHaveAttribute('data-status', 'sent');
  const both = ['are you there?', 'sent while you were away', 'and another one', 'written offline 1', 'written offline 2'];
  await expect(bob.page.getByTestId('message-body')).toHaveText(both);
  await expect(alice.page.getByTestId('message-body')).toHaveText(both);

  // Live messages keep arriving once each after the recovery.
  await send(alice.page, 'welcome back');
  await expect(bob.page.getByTestId('message-body')).toHaveText([...both, 'welcome back']);
  await alice.context.close();
  await bob.context.close();
});
