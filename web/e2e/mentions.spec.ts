import { expect, test } from '@playwright/test';
import { messagesWithBody, openAs, openRoom } from './helpers';
import { serverForThisFile } from './server';

const server = serverForThisFile();

test('@mention autocompletes from the room and is highlighted for the person mentioned', async ({ browser }) => {
  const alice = await openAs(browser, server().url, 'alice');
  const bob = await openAs(browser, server().url, 'Bob Stone');
  const carol = await openAs(browser, server().url, 'carol');
  const a = alice.page;

  const input = a.getByTestId('composer-input');
  await input.pressSequentially('thanks @bo');
  const options = a.getByTestId('mention-option');
  await expect(options).toHaveCount(1);
  await expect(options).toContainText('Bob Stone');
  await input.press('Enter'); // completes, does not send
  await expect(input).toHaveValue('thanks @Bob Stone ');
  await input.pressSequentially('and @');
  await expect(options).toHaveCount(2);
  await input.press('ArrowDown');
  await input.press('Escape');
  await expect(a.getByTestId('mention-list')).toHaveCount(0);
  await input.pressSequentially('c');
  await expect(a.getByTestId('mention-list')).toHaveCount(0); // closed for this mention
  await input.fill('thanks @Bob Stone!');
  await input.press('Enter');

  const atBob = messagesWithBody(bob.page, 'thanks @Bob Stone!');
  await expect(atBob).toHaveAttribute('data-mention', 'true');
  await expect(atBob.getByTestId('mention-me')).toHaveText('@Bob Stone');
  // Not a mention of carol.
  await expect(messagesWithBody(carol.page, 'thanks @Bob Stone!')).not.toHaveAttribute('data-mention', 'true');

  // In another room, bob's #general shows a mention badge apart from the unread count.
  await openRoom(bob.page, 'elsewhere');
  await a.getByTestId('composer-input').fill('@bob stone ping');
  await a.getByTestId('composer-input').press('Enter');
  await a.getByTestId('composer-input').fill('no mention here');
  await a.getByTestId('composer-input').press('Enter');
  const general = bob.page.locator('[data-testid="room-link"][data-room="general"]');
  await expect(general.getByTestId('room-unread')).toHaveText('2');
  await expect(general.getByTestId('room-mentions')).toHaveText('@1');
  for (const c of [alice, bob, carol]) await c.context.close();
});
