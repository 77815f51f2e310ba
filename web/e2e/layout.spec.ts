import { expect, test, type Page } from '@playwright/test';
import { messagesWithBody, openAs, send } from './helpers';
import { serverForThisFile } from './server';

const server = serverForThisFile();

async function horizontalOverflow(page: Page): Promise<number> {
  return page.evaluate(() => {
    const doc = document.documentElement;
    let worst = doc.scrollWidth - doc.clientWidth;
    for (const el of document.querySelectorAll<HTMLElement>('.messages, .chat, .chat-header, .composer, .bubble, .msg-stack')) {
      const style = getComputedStyle(el);
      if (style.overflowX === 'hidden' || style.overflowX === 'clip') continue;
      worst = Math.max(worst, el.scrollWidth - el.clientWidth);
    }
    return worst;
  });
}

test('the phone layout never scrolls sideways, whatever the names and words', async ({ browser }) => {
  const longName = 'Wolfeschlegelsteinhausenbergerdo'; // 32 characters, no space
  const sender = await openAs(browser, server().url, longName);
  const phoneCtx = await browser.newContext({ baseURL: server().url, viewport: { width: 375, height: 740 }, hasTouch: true, isMobile: true });
  const p = await phoneCtx.newPage();
  await p.goto('/');
  await p.getByTestId('name-input').fill('Pat');
  await p.getByTestId('name-submit').click();
  await expect(p.getByTestId('connection-status')).toHaveAttribute('data-status', 'online');

  const longWord = 'Donaudampfschifffahrtsgesellschaftskapitaenswitwe'.repeat(3);
  const longUrl = `https://example.com/${'a1b2c3d4e5'.repeat(18)}?q=${'x'.repeat(20)}`;
  await send(sender.page, longWord);
  await send(sender.page, `see ${longUrl}`);
  await send(sender.page, '```\n' + 'const reallyLongLine = ' + '"x"'.repeat(80) + ';\n```');
  await expect(messagesWithBody(p, longWord)).toHaveCount(1);
  await expect(p.getByTestId('code-block')).toHaveCount(1);
  await expect(p.getByTestId('message-author').filter({ hasText: longName }).first()).toBeVisible();
  expect(await horizontalOverflow(p)).toBeLessThanOrEqual(0);

  // The code block scrolls inside itself instead of widening the page.
  const pre = p.locator('[data-testid="code-block"] pre');
  expect(await pre.evaluate((el) => el.scrollWidth > el.clientWidth)).toBe(true);

  // The sidebar drawer with the long name in the member list.
  await p.getByTestId('sidebar-toggle').click();
  await expect(p.locator(`[data-testid="online-user"][data-name="${longName}"]`)).toBeVisible();
  expect(await horizontalOverflow(p)).toBeLessThanOrEqual(0);
  await sender.context.close();
  await phoneCtx.close();
});

test('on a touch keyboard Enter inserts a newline and the send button sends', async ({ browser }) => {
  const ctx = await browser.newContext({ baseURL: server().url, viewport: { width: 375, height: 740 }, hasTouch: true, isMobile: true });
  const p = await ctx.newPage();
  await p.goto('/r/touch');
  await p.getByTestId('name-input').fill('Tess');
  await p.getByTestId('name-submit').click();
  await expect(p.getByTestId('connection-status')).toHaveAttribute('data-status', 'online');
  const input = p.getByTestId('composer-input');
  await input.fill('first line');
  await input.press('Enter');
  await input.pressSequentially('second line');
  await expect(input).toHaveValue('first line\nsecond line');
  await p.getByTestId('composer-send').tap();
  await expect(p.getByTestId('message-body')).toHaveText(['first line\nsecond line']);
  await ctx.close();
});
