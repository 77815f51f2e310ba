// `npm run screenshot`: the real UI with people chatting, for docs/screenshot.png. Phone-width
// shots go to test-results/ for a look.

import { expect, test } from '@playwright/test';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { messagesWithBody, openAs, openRoom, send } from './helpers';
import { serverForThisFile } from './server';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

const server = serverForThisFile();

test('@screenshot two people chatting', async ({ browser }) => {
  test.setTimeout(120_000);
  const alice = await openAs(browser, server().url, 'Alice Martin');
  const a = alice.page;
  for (const room of ['design', 'releases']) await openRoom(a, room);
  await a.locator('[data-testid="room-link"][data-room="general"]').click();

  const bob = await openAs(browser, server().url, 'Bob Chen');
  const b = bob.page;
  await send(b, 'Morning! The cluster upgrade went through overnight 🎉');
  await send(b, 'All three nodes are on v1.4 now, and the failover drill took under a second.');
  await send(a, 'Nice work! Did the stream replicas catch up after the restart?');
  const carol = await openAs(browser, server().url, 'Carol Diaz');
  const c = carol.page;
  await send(c, 'Yes — I watched it the whole time. **No gaps**, every message acknowledged:\n```sh\nnats stream info DISTCHAT --json | jq .state.messages\n```');
  await send(c, 'Dashboard is here if you want to look: https://grafana.example.com/d/distchat');
  await send(a, "Perfect. I'll update the release notes\nand ping the mobile team about the new reconnect logic.");
  await send(b, '@Alice Martin sounds good 🙌 can you also check the _failover_ runbook?');
  await send(c, 'I can take the changelog');
  await expect(messagesWithBody(a, 'I can take the changelog')).toHaveCount(1);

  // Unread activity in another room, someone typing in this one.
  await openRoom(c, 'design');
  await expect(c.getByTestId('connection-status')).toHaveAttribute('data-status', 'online');
  await send(c, 'New mockups for the settings page are up');
  await send(c, 'Feedback welcome!');
  await expect(a.locator('[data-testid="room-link"][data-room="design"] [data-testid="room-unread"]')).toHaveText('2');
  await c.locator('[data-testid="room-link"][data-room="general"]').click();
  // The server forwards one typing notice per person every 2 s; bob's last one was recent.
  await b.waitForTimeout(2100);
  await b.getByTestId('composer-input').pressSequentially('Let me');
  await expect(a.getByTestId('typing-indicator')).toContainText('is typing');

  // The notification offer (alice has written) is not what this picture is about.
  const notNow = a.getByTestId('notify-dismiss');
  if (await notNow.isVisible()) await notNow.click();
  await a.getByTestId('composer-input').click();
  await a.mouse.move(0, 0);
  await a.screenshot({ path: path.join(repoRoot, 'docs', 'screenshot.png') });

  // Phone width: the conversation, then the sidebar drawer.
  await a.setViewportSize({ width: 390, height: 844 });
  await b.getByTestId('composer-input').pressSequentially('.');
  await a.screenshot({ path: path.join(repoRoot, 'test-results', 'screenshot-390.png') });
  await a.setViewportSize({ width: 360, height: 740 });
  await a.screenshot({ path: path.join(repoRoot, 'test-results', 'screenshot-360.png') });
  await a.setViewportSize({ width: 390, height: 844 });
  await a.getByTestId('sidebar-toggle').click();
  await expect(a.getByTestId('sidebar')).toBeInViewport();
  await a.waitForTimeout(300);
  await a.screenshot({ path: path.join(repoRoot, 'test-results', 'screenshot-390-sidebar.png') });

  // Dark mode at desktop size.
  await a.emulateMedia({ colorScheme: 'dark' });
  await a.setViewportSize({ width: 1280, height: 800 });
  await a.keyboard.press('Escape');
  await a.screenshot({ path: path.join(repoRoot, 'test-results', 'screenshot-dark.png') });

  // The connection lost: status and composer say so.
  await a.emulateMedia({ colorScheme: 'light' });
  await server().stop();
  await expect(a.getByTestId('connection-status')).toHaveAttribute('data-status', 'reconnecting');
  await a.screenshot({ path: path.join(repoRoot, 'test-results', 'screenshot-reconnecting.png') });

  // First visit: the name prompt.
  const fresh = await browser.newContext({ baseURL: server().url });
  await server().startAgain();
  const f = await fresh.newPage();
  await f.goto('/');
  await expect(f.getByTestId('name-dialog')).toBeVisible();
  await f.screenshot({ path: path.join(repoRoot, 'test-results', 'screenshot-welcome.png') });

  for (const x of [alice, bob, carol]) await x.context.close();
  await fresh.close();
});
