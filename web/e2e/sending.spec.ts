import { expect, test } from '@playwright/test';
import { messagesWithBody, openAs, send } from './helpers';
import { serverForThisFile } from './server';

// The server's default limits (10 requests/s, bursts of 30): the client must pace itself.
const server = serverForThisFile();

test('60 messages sent in a row arrive complete and in order in another browser', async ({ browser }) => {
  const alice = await openAs(browser, server().url, 'alice');
  const bob = await openAs(browser, server().url, 'bob');
  const lines = Array.from({ length: 60 }, (_, i) => `line ${String(i + 1).padStart(2, '0')}`);
  // As fast as the composer takes them: far over the server's burst.
  const input = alice.page.getByTestId('composer-input');
  for (const line of lines) {
    await input.fill(line);
    await input.press('Enter');
  }
  await expect(messagesWithBody(alice.page, 'line 60')).toHaveAttribute('data-status', 'sent', { timeout: 20_000 });
  await expect(bob.page.getByTestId('message-body')).toHaveText(lines, { timeout: 20_000 });
  // Nothing failed or was refused on the way.
  await expect(alice.page.getByTestId('message-failed')).toHaveCount(0);
  await expect(alice.page.getByTestId('toast')).toHaveCount(0);
  await expect(alice.page.getByTestId('message-body')).toHaveText(lines);
  await alice.context.close();
  await bob.context.close();
});

test('markdown: a code fence is a code block, raw HTML stays text, links are http(s) only', async ({ browser }) => {
  const alice = await openAs(browser, server().url, 'alice', '/r/md');
  const bob = await openAs(browser, server().url, 'bob', '/r/md');
  const a = alice.page;
  await send(a, 'Try this:\n```go\nfmt.Println("<b>hi</b>")\n```');
  const block = bob.page.getByTestId('code-block');
  await expect(block).toHaveCount(1);
  await expect(block.locator('pre code')).toHaveText('fmt.Println("<b>hi</b>")');
  await expect(block.getByTestId('code-copy')).toBeVisible();
  expect(await block.locator('pre').evaluate((el) => getComputedStyle(el).fontFamily)).toMatch(/mono|Menlo|Consolas|Courier/i);

  await send(a, '**bold** and [bad](javascript:alert(1)) and <img src=x onerror="document.title=1"> https://example.com/ok');
  const msg = bob.page.getByTestId('message').last();
  await expect(msg.locator('strong')).toHaveText('bold');
  await expect(msg.locator('img')).toHaveCount(0);
  await expect(msg.locator('a')).toHaveCount(1);
  await expect(msg.locator('a')).toHaveAttribute('href', 'https://example.com/ok');
  await alice.context.close();
  await bob.context.close();
});
