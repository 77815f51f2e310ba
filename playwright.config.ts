import { defineConfig } from '@playwright/test';

// End-to-end tests drive the real UI served by the real binary (bin/distchat, built by
// `make build`; DISTCHAT_BIN overrides) in the system's headless Chromium. No browser is
// downloaded: CHROMIUM_PATH overrides the default /usr/bin/chromium.
const chromiumArgs = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];

export default defineConfig({
  testDir: 'web/e2e',
  testMatch: '**/*.spec.ts',
  outputDir: 'test-results',
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: 'list',
  forbidOnly: !!process.env.CI,
  timeout: 60_000,
  expect: { timeout: 10_000 },
  use: {
    browserName: 'chromium',
    headless: true,
    viewport: { width: 1280, height: 800 },
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
      args: chromiumArgs,
    },
    screenshot: 'only-on-failure',
    trace: 'retain-on-failure',
  },
  projects: [
    // `npm run e2e`: every scenario except the screenshot for the docs.
    { name: 'e2e', grepInvert: /@screenshot/ },
    // `npm run screenshot`: writes docs/screenshot.png (and a phone-width one).
    { name: 'screenshot', grep: /@screenshot/ },
  ],
});
