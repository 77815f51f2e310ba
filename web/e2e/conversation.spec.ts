// Editing, deleting, reactions and topics between two browsers, through the real server
// (edit, delete, react and topic; docs/protocol.md, "Conversation events").

import { expect, test } from '@playwright/test';
import { messagesWithBody, openAs, send } from './helpers';
import { serverForThisFile } from './server';

const server = serverForThisFile();

test('an edit and a delete are seen by the other browser', async ({ browser }) => {
  const alice = await openAs(browser, server().url, 'alice', '/r/edits');
  const bob = await openAs(browser, server().url, 'bob', '/r/edits');
  const a = alice.page;
  await send(a, 'the meeting is at 3');
  await send(a, 'wrong room, sorry');
  await expect(messagesWithBody(bob.page, 'wrong room, sorry')).toHaveCount(1);

  // ArrowUp in the empty composer edits the last message; here the one before it, by its menu.
  const first = messagesWithBody(a, 'the meeting is at 3');
  await first.hover();
  await first.getByTestId('action-edit').click();
  await a.getByTestId('message-editor-input').fill('the meeting is at 4');
  await a.getByTestId('message-editor-input').press('Enter');
  const edited = messagesWithBody(bob.page, 'the meeting is at 4');
  await expect(edited).toHaveCount(1);
  await expect(edited.getByTestId('message-edited')).toHaveText('(edited)');

  await a.getByTestId('composer-input').press('ArrowUp');
  await expect(a.getByTestId('message-editor-input')).toHaveValue('wrong room, sorry');
  await a.getByTestId('message-editor-input').press('Escape');
  const last = messagesWithBody(a, 'wrong room, sorry');
  await last.hover();
  await last.getByTestId('action-delete').click();
  await a.getByTestId('confirm-ok').click();
  await expect(bob.page.getByTestId('message-deleted')).toHaveText('This message was deleted');
  await expect(messagesWithBody(bob.page, 'wrong room, sorry')).toHaveCount(0);

  // Bob cannot edit or delete alice's messages.
  await edited.hover();
  await expect(edited.getByTestId('action-edit')).toHaveCount(0);
  await expect(edited.getByTestId('action-delete')).toHaveCount(0);

  // After a reload, history carries the edit; the deleted message was erased by the server,
  // so neither its words nor a trace of it come back.
  await bob.page.reload();
  await expect(messagesWithBody(bob.page, 'the meeting is at 4').getByTestId('message-edited')).toHaveCount(1);
  await expect(messagesWithBody(bob.page, 'wrong room, sorry')).toHaveCount(0);
  await expect(bob.page.getByTestId('message-deleted')).toHaveCount(0);
  await alice.context.close();
  await bob.context.close();
});

test('a reaction from one browser appears in the other and toggles off', async ({ browser }) => {
  const alice = await openAs(browser, server().url, 'alice', '/r/reactions');
  const bob = await openAs(browser, server().url, 'bob', '/r/reactions');
  await send(alice.page, 'ship it?');
  const atBob = messagesWithBody(bob.page, 'ship it?');
  await atBob.hover();
  await atBob.getByTestId('action-react').click();
  await bob.page.getByTestId('emoji-option').filter({ hasText: '🎉' }).click();

  const chip = messagesWithBody(alice.page, 'ship it?').locator('[data-testid="reaction"][data-emoji="🎉"]');
  await expect(chip).toContainText('1');
  await expect(chip).toHaveAttribute('title', 'bob reacted with 🎉');
  await expect(chip).toHaveAttribute('aria-pressed', 'false');
  // alice adds hers by clicking the chip: 2, highlighted for her.
  await chip.click();
  await expect(chip).toContainText('2');
  await expect(chip).toHaveAttribute('aria-pressed', 'true');
  await expect(atBob.locator('[data-testid="reaction"][data-emoji="🎉"]')).toContainText('2');
  // bob takes his back.
  await atBob.locator('[data-testid="reaction"][data-emoji="🎉"]').click();
  await expect(chip).toContainText('1');
  await alice.context.close();
  await bob.context.close();
});

test('a topic set by one member shows in the other browser’s header', async ({ browser }) => {
  const alice = await openAs(browser, server().url, 'alice', '/r/topics');
  const bob = await openAs(browser, server().url, 'bob', '/r/topics');
  await alice.page.getByTestId('room-topic').click();
  await alice.page.getByTestId('topic-input').fill('Release week 🚀');
  await alice.page.getByTestId('topic-input').press('Enter');
  await expect(bob.page.getByTestId('room-topic')).toHaveText('Release week 🚀');
  await expect(bob.page.getByTestId('notice').filter({ hasText: 'set the topic' })).toHaveCount(1);
  // A newcomer gets it with the welcome; the room browser lists it.
  const carol = await openAs(browser, server().url, 'carol', '/r/topics');
  await expect(carol.page.getByTestId('room-topic')).toHaveText('Release week 🚀');
  await carol.page.getByTestId('browse-rooms').click();
  await expect(carol.page.locator('[data-testid="browse-room"][data-room="topics"]')).toContainText('Release week 🚀');
  for (const c of [alice, bob, carol]) await c.context.close();
});
