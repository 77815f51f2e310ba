import { expect, test } from '@playwright/test';
import { expectOnline, messagesWithBody, openAs, send } from './helpers';
import { serverForThisFile } from './server';

// No rate limit, so the scroll-back test can seed a long history in one go.
const server = serverForThisFile(['--rate-limit', '0']);

test('a refresh keeps the history, and a newcomer sees it too', async ({ browser }) => {
  const alice = await openAs(browser, server().url, 'alice');
  const lines = ['first', 'second', 'third'];
  for (const l of lines) await send(alice.page, l);
  await expect(messagesWithBody(alice.page, 'third')).toHaveAttribute('data-status', 'sent');

  await alice.page.reload();
  await expectOnline(alice.page);
  await expect(alice.page.getByTestId('message-body')).toHaveText(lines);
  // Still recognised as hers after the reload.
  await expect(messagesWithBody(alice.page, 'first')).toHaveAttribute('data-own', 'true');

  const dave = await openAs(browser, server().url, 'dave');
  await expect(dave.page.getByTestId('message-body')).toHaveText(lines);
  await expect(messagesWithBody(dave.page, 'first').getByTestId('message-author')).toHaveText('alice');
  await alice.context.close();
  await dave.context.close();
});

test('scrolling up loads older messages page by page', async ({ browser }) => {
  const erin = await openAs(browser, server().url, 'erin', '/r/long');
  const total = 130;
  // Seed the room through a second raw socket: many message objects in one frame, then wait
  // for every ack.
  await erin.page.evaluate(async (n) => {
    const ws = new WebSocket(`ws://${location.host}/ws?name=seeder&room=long`);
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = reject;
    });
    const acked = new Promise<void>((resolve) => {
      let acks = 0;
      ws.onmessage = (e) => {
        for (const line of String(e.data).split('\n')) if (line.includes('"type":"ack"')) acks++;
        if (acks >= n) resolve();
      };
    });
    ws.send(Array.from({ length: n }, (_, i) => JSON.stringify({ type: 'message', room: 'long', body: `line ${i + 1}`, ref: `seed-${i}` })).join('\n'));
    await acked;
    ws.close();
  }, total);
  await expect(messagesWithBody(erin.page, `line ${total}`)).toHaveCount(1);

  const reader = await openAs(browser, server().url, 'frank', '/r/long');
  const list = reader.page.getByTestId('message-list');
  await expect(messagesWithBody(reader.page, `line ${total}`)).toBeVisible();
  const initial = await reader.page.getByTestId('message').count();
  expect(initial).toBeLessThan(total);

  // Scroll to the top until the start of the room appears.
  await expect(async () => {
    await list.evaluate((el) => el.scrollTo({ top: 0 }));
    await expect(reader.page.getByTestId('room-start')).toBeVisible({ timeout: 1000 });
  }).toPass({ timeout: 30_000 });
  await expect(reader.page.getByTestId('message')).toHaveCount(total);
  const bodies = await reader.page.getByTestId('message-body').allTextContents();
  expect(bodies).toEqual(Array.from({ length: total }, (_, i) => `line ${i + 1}`));
  await erin.context.close();
  await reader.context.close();
});
