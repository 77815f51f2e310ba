import { expect, type Browser, type BrowserContext, type Page } from '@playwright/test';

export interface ChatPage {
  context: BrowserContext;
  page: Page;
}

/** A new browser context (its own storage: a different person) that picks a name. */
export async function openAs(browser: Browser, baseURL: string, name: string, path = '/'): Promise<ChatPage> {
  const context = await browser.newContext({ baseURL });
  const page = await context.newPage();
  await page.goto(path);
  await page.getByTestId('name-input').fill(name);
  await page.getByTestId('name-submit').click();
  await expectOnline(page);
  return { context, page };
}

export async function expectOnline(page: Page): Promise<void> {
  await expect(page.getByTestId('connection-status')).toHaveAttribute('data-status', 'online');
  await expect(page.getByTestId('composer-input')).toBeEnabled();
}

export async function send(page: Page, text: string): Promise<void> {
  const input = page.getByTestId('composer-input');
  await input.fill(text);
  await input.press('Enter');
  await expect(input).toHaveValue('');
}

/** The message rows whose body is exactly `text`. */
export function messagesWithBody(page: Page, text: string) {
  return page.getByTestId('message').filter({ has: page.getByTestId('message-body').getByText(text, { exact: true }) });
}

export function onlineUser(page: Page, name: string) {
  return page.getByTestId('online-list').locator(`[data-testid="online-user"][data-name="${name}"]`);
}

/** Joins (or creates) a room through "Browse or create rooms". */
export async function openRoom(page: Page, room: string): Promise<void> {
  await page.getByTestId('browse-rooms').click();
  await page.getByTestId('room-input').fill(room);
  // "Create" is offered only once the list has loaded; decide then.
  await expect(page.locator('.browse-list')).toHaveAttribute('aria-busy', 'false');
  const existing = page.locator(`[data-testid="browse-room"][data-room="${room}"]`);
  const create = page.getByTestId('room-create');
  await expect(existing.or(create)).toBeVisible();
  if (await create.isVisible()) await create.click();
  else await existing.click();
  await expect(page.getByTestId('room-title')).toHaveText(`#${room}`);
}
