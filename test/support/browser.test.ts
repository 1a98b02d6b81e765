/** The page-test browser itself: it renders, reads the DOM, and refuses requests that leave the machine. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestBrowser, openBrowser } from './browser';

describe('test browser (headless Chromium)', () => {
  let browser: TestBrowser;
  beforeAll(async () => void (browser = await openBrowser()));
  afterAll(async () => browser?.close());

  it('renders a local file, runs its script, and blocks a request to another host', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'browser-test-'));
    const file = join(dir, 'page.html');
    writeFileSync(
      file,
      `<!doctype html><html><body><p id="n">0</p><svg width="100" height="50"><rect id="bar" width="40" height="20"/></svg>
       <img src="http://example.invalid/x.png"><script>document.getElementById('n').textContent = String(6 * 7);</script></body></html>`,
    );
    const p = await browser.open(`file://${file}`);
    try {
      expect(await p.page.textContent('#n')).toBe('42');
      const box = await p.page.locator('#bar').boundingBox();
      expect(box?.width).toBe(40);
      expect(p.blocked).toEqual(['http://example.invalid/x.png']);
      const shot = await p.screenshot(join(dir, 'page.png'));
      expect(shot.endsWith('.png')).toBe(true);
    } finally {
      await p.close();
    }
  });
});
