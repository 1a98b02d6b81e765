/**
 * Headless Chromium for page tests: Debian's `chromium` package (`.ci/run` installs it when missing), driven by
 * playwright-core, so no browser build is downloaded. One browser per suite (`openBrowser` in beforeAll, `close`
 * in afterAll); each page gets a fresh context. Network is off except for loopback: a page that loads anything from
 * elsewhere fails its test instead of hanging.
 */
import { type Browser, type Page, chromium } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export interface TestBrowser {
  /**
   * Opens `url` (http://127.0.0.1…, or file://…) in a new page and waits for it to load. Requests to any other
   * host are aborted and listed in `blocked`; console errors and uncaught page errors are collected in `errors`.
   */
  open(url: string, o?: { width?: number; height?: number }): Promise<OpenedPage>;
  close(): Promise<void>;
}

export interface OpenedPage {
  readonly page: Page;
  readonly errors: string[];
  readonly blocked: string[];
  /** Saves a full-page PNG (for looking at it) and returns its path. */
  screenshot(path: string): Promise<string>;
  close(): Promise<void>;
}

const LOCAL = /^(file:|data:|blob:|about:|https?:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?\/)/;

export async function openBrowser(): Promise<TestBrowser> {
  const browser: Browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    // playwright-core starts Chromium with an empty profile of its own in a temporary folder, removed on close.
  });
  return {
    async open(url, o = {}) {
      const context = await browser.newContext({ viewport: { width: o.width ?? 1280, height: o.height ?? 900 } });
      const page = await context.newPage();
      const errors: string[] = [];
      const blocked: string[] = [];
      page.on('console', (m) => void (m.type() === 'error' && errors.push(m.text())));
      page.on('pageerror', (e) => void errors.push(e.message));
      await page.route('**/*', (route) => {
        const u = route.request().url();
        if (LOCAL.test(u)) return route.continue();
        blocked.push(u);
        return route.abort();
      });
      await page.goto(url, { waitUntil: 'load' });
      return {
        page,
        errors,
        blocked,
        async screenshot(path) {
          await page.screenshot({ path, fullPage: true });
          return path;
        },
        close: () => context.close(),
      };
    },
    async close() {
      await browser.close();
    },
  };
}
