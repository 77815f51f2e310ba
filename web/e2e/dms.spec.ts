// Direct messages need a relationship, and one's list of them is one's own: hiding a
// conversation (leave with hide) and the server's refusals of `dm` (docs/protocol.md, "Direct
// messages"), against the real server().

import { expect, test, type Page } from '@playwright/test';
import { expectOnline, messagesWithBody, onlineUser, openAs, send } from './helpers';
import { serverForThisFile } from './server';

const server = serverForThisFile();

function dmLink(page: Page, name: string) {
  return page.getByTestId('dm-link').filter({ hasText: name });
}

async function messagePrivately(page: Page, name: string): Promise<void> {
  await page.locator('[data-testid="online-person"]', { hasText: name }).click();
  await page.getByTestId('menu-dm').click();
}

test('a hidden conversation leaves one’s own list, stays gone after a reload, and comes back when opened again', async ({ browser }) => {
  const alice = await openAs(browser, server().url, 'alice');
  const bob = await openAs(browser, server().url, 'bob');

  await messagePrivately(alice.page, 'bob');
  await expect(alice.page).toHaveURL(/\/r\/dm-/);
  await send(alice.page, 'before hiding');
  await expect(dmLink(bob.page, 'alice')).toBeVisible();

  // The button shows on hover (and focus), labelled with the person.
  await dmLink(alice.page, 'bob').hover();
  const hide = alice.page.getByRole('button', { name: 'Hide conversation with bob' });
  await expect(hide).toBeVisible();
  await hide.click();
  await expect(alice.page.getByTestId('dm-link')).toHaveCount(0);
  await expect(alice.page.getByTestId('dm-empty')).toBeVisible();
  await expect(alice.page).toHaveURL(/\/r\/general$/);
  await expect(alice.page.getByTestId('room-title')).toHaveText('#general');

  await alice.page.reload();
  await expectOnline(alice.page);
  await expect(alice.page.getByTestId('dm-empty')).toBeVisible();
  await expect(alice.page.getByTestId('dm-link')).toHaveCount(0);

  // The other person keeps it.
  await bob.page.reload();
  await expectOnline(bob.page);
  await expect(dmLink(bob.page, 'alice')).toBeVisible();

  // Opened again from the online list: back, with what was said.
  await messagePrivately(alice.page, 'bob');
  await expect(alice.page).toHaveURL(/\/r\/dm-/);
  await expect(dmLink(alice.page, 'bob')).toBeVisible();
  await expect(messagesWithBody(alice.page, 'before hiding')).toHaveCount(1);

  await alice.context.close();
  await bob.context.close();
});

test('someone who shares no room with you cannot be messaged: a note next to them says why', async ({ browser }) => {
  const alice = await openAs(browser, server().url, 'alice');

  // dave speaks in #general from a plain WebSocket, then keeps to another room only.
  const daveContext = await browser.newContext({ baseURL: server().url });
  const davePage = await daveContext.newPage();
  await davePage.goto('/');
  await davePage.evaluate(async () => {
    const ws = new WebSocket(`ws://${location.host}/ws?name=dave&room=elsewhere`);
    (window as unknown as { dave: WebSocket }).dave = ws;
    const replies: Record<string, unknown>[] = [];
    ws.onmessage = (e) => {
      for (const line of String(e.data).split('\n')) if (line.trim()) replies.push(JSON.parse(line));
    };
    const reply = (pred: (o: Record<string, unknown>) => boolean) =>
      new Promise<void>((resolve) => {
        const t = setInterval(() => {
          if (replies.some(pred)) {
            clearInterval(t);
            resolve();
          }
        }, 20);
      });
    await reply((o) => o.type === 'welcome');
    ws.send(JSON.stringify({ type: 'join', room: 'general', ref: 'j1' }));
    await reply((o) => o.type === 'joined' && o.ref === 'j1');
    ws.send(JSON.stringify({ type: 'message', room: 'general', body: 'dave was here', ref: 'm1' }));
    await reply((o) => o.type === 'ack' && o.ref === 'm1');
    ws.send(JSON.stringify({ type: 'leave', room: 'general', ref: 'l1' }));
    await reply((o) => o.type === 'left' && o.ref === 'l1');
  });
  await expect(messagesWithBody(alice.page, 'dave was here')).toHaveCount(1);
  await expect(onlineUser(alice.page, 'dave')).toHaveCount(0);

  await messagesWithBody(alice.page, 'dave was here').getByTestId('message-author').click();
  await alice.page.getByTestId('menu-dm').click();
  const note = alice.page.getByTestId('dm-note');
  await expect(note).toBeVisible();
  await expect(note).toHaveAccessibleName('Cannot message dave');
  await expect(note).toContainText('dave is not in a room with you right now. You can message people who share a room with you.');
  // Nothing opened, nothing waiting, no alarm.
  await expect(alice.page.getByTestId('dm-link')).toHaveCount(0);
  await expect(alice.page).toHaveURL(/\/$/);
  await expect(alice.page.getByTestId('toast')).toHaveCount(0);
  await alice.page.getByTestId('dm-note-dismiss').click();
  await expect(note).toHaveCount(0);

  await alice.context.close();
  await daveContext.close();
});
