/**
 * The live page of `npm start`: `--follow` run in-process serves it while it runs (the panels' figures are those
 * of the EMF documents the handlers emitted and of the batch lines printed, each shard's watermark is shown, the
 * lookup box answers a key's features with their statuses) and stops serving when the run ends; the CLI prints
 * its URL on stderr and stops it on SIGTERM. Rendered in headless Chromium.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Emulators, startEmulators } from '../../../bin/local/emulators';
import { kinesisClient } from '../../../bin/local/kinesis-client';
import { runFollow } from '../../../bin/sandbox/demo';
import type { LivePage } from '../../../bin/sandbox/live-page';
import { MetricName } from '../../../lambda/contract/metric-names';
import { parseSpecJson } from '../../../lambda/core/spec';
import { type TestBrowser, openBrowser } from '../../support/browser';
import { REPO_ROOT } from '../../support/run-cli';

const raw = JSON.parse(readFileSync(join(REPO_ROOT, 'bin/specs/fraud.json'), 'utf8')) as Record<string, unknown>;
delete raw.scoring;
delete raw.evaluation;
const SPEC_TEXT = JSON.stringify(raw);
const SPEC = parseSpecJson(SPEC_TEXT);
const dir = mkdtempSync(join(tmpdir(), 'live-page-'));
const saved = { ...process.env };
let emulators: Emulators;
let browser: TestBrowser;

beforeAll(async () => {
  [emulators, browser] = await Promise.all([startEmulators(), openBrowser()]);
  Object.assign(process.env, emulators.env());
}, 120_000);

afterAll(async () => {
  process.env = saved;
  await Promise.all([emulators?.stop(), browser?.close()]);
  rmSync(dir, { recursive: true, force: true });
});

async function waitFor(what: string, check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const num = (s: string | null): number => Number((s ?? '').replace(/,/g, ''));
/** Records in, summed over the batch lines `--follow` prints. */
const recordsInOfLines = (text: string): number => [...text.matchAll(/^\S+ {2}batch [^:]*: (\d+) in,/gm)].reduce((n, m) => n + Number(m[1]), 0);
const refused = (url: string): Promise<boolean> =>
  fetch(url).then(
    () => false,
    () => true,
  );

describe('the live page of npm start', () => {
  it('--follow serves the panels of the handlers\' metrics, the shards\' watermarks and a lookup box while it runs, and stops with it', async () => {
    let text = '';
    let page: LivePage | undefined;
    let stop!: () => void;
    const until = new Promise<void>((resolve) => (stop = resolve));
    const run = runFollow({ emulators, spec: SPEC, specPath: 'fraud.json', name: 'follow-page', out: (t) => void (text += t), page: { onStart: (p) => (page = p) }, until });
    try {
      await waitFor('the follow help', () => text.includes('One line per batch'));
      expect(page?.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
      const stream = /stream "([^"]+)"/.exec(text)![1]!;
      const now = Date.now();
      // Two keys, so both shards usually get records; one record with no amount is invalid.
      const records = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => {
        const user = `u${i % 4}`;
        const body: Record<string, unknown> = { user_id: user, event_time: now - 2000 + i, merchant: 'm', event_id: `e${i}` };
        if (i !== 7) body.amount = 10 + i;
        return { PartitionKey: user, Data: Buffer.from(JSON.stringify(body)) };
      });
      await kinesisClient().send(new PutRecordsCommand({ StreamName: stream, Records: records }));
      await waitFor('8 records in the batch lines', () => recordsInOfLines(text) === 8);
      const feed = page!.feed;
      expect(feed.total(MetricName.RecordsIn, 'Sum')).toBe(8);

      const p = await browser.open(page!.url);
      try {
        // The panels of the definition, with the figures the EMF feed holds and the batch lines printed.
        const total = (panel: string, series: string) => p.page.textContent(`[data-panel="${panel}"] li[data-series="${series}"] .total`);
        expect(num(await total('records', 'RecordsIn'))).toBe(recordsInOfLines(text));
        expect(num(await total('records', 'RecordsApplied'))).toBe(feed.total(MetricName.RecordsApplied, 'Sum'));
        expect(num(await total('records', 'InvalidRecords'))).toBe(1);
        expect(num(await total('records', 'LateRecords'))).toBe(0);
        for (const id of ['freshness', 'watermark-lag', 'records', 'outcomes', 'batch-duration']) expect(await p.page.locator(`section.panel[data-panel="${id}"]`).count(), id).toBe(1);
        expect(Number(await p.page.locator('[data-panel="records"] g.series[data-series="RecordsIn"]').getAttribute('data-points'))).toBeGreaterThan(0);
        expect((await p.page.locator('[data-panel="records"] svg.chart').boundingBox())?.width).toBeGreaterThan(100);
        // The run's own counts, and each shard's watermark (every shard that got records has one).
        expect(num(await p.page.textContent('tr[data-figure="records in"] td'))).toBe(8);
        expect(num(await p.page.textContent('tr[data-figure="DynamoDB write units"] td'))).toBeGreaterThan(0);
        const shardRows = p.page.locator('table.shards tr[data-shard]');
        expect(await shardRows.count()).toBe(2);
        const watermarks = await shardRows.locator('td:nth-child(2)').allTextContents();
        expect(watermarks.some((w) => /^\d{4}-\d\d-\d\dT/.test(w))).toBe(true);
        // The lookup box: a key's features as of now, each with its status.
        await p.page.fill('#key', 'u1');
        await p.page.click('button[type="submit"]');
        await p.page.waitForFunction("document.getElementById('lookup-result').dataset.status === '200'");
        const answer = JSON.parse((await p.page.textContent('#lookup-result'))!) as { key: string; found: boolean; features: Record<string, { value: unknown; status: string }> };
        expect(answer.key).toBe('u1');
        expect(answer.found).toBe(true);
        expect(Object.keys(answer.features).sort()).toEqual(SPEC.features.map((f) => f.name).sort());
        const statuses = await p.page.locator('#lookup-table tr[data-feature] td.status').allTextContents();
        expect(statuses).toEqual(SPEC.features.map((f) => answer.features[f.name]!.status));
        expect(statuses.every((s) => s.length > 0)).toBe(true);
        const count5m = await p.page.textContent('#lookup-table tr[data-feature="txn_count_5m"] td.value');
        expect(count5m).toBe(String(answer.features.txn_count_5m!.value));
        expect(p.blocked).toEqual([]);
        expect(p.errors).toEqual([]);
        await p.screenshot(join(tmpdir(), 'live-page-follow.png'));
      } finally {
        await p.close();
      }
    } finally {
      stop();
    }
    expect(await run).toBe(0);
    expect(await refused(page!.url)).toBe(true);
  }, 60_000);

  it('npm start prints the page\'s URL on stderr and stops serving it on SIGTERM', async () => {
    const spec = join(dir, 'spec.json');
    writeFileSync(spec, SPEC_TEXT);
    const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'bin', 'sandbox.ts'), '--follow', '--config', spec], { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const closed = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    try {
      await waitFor('the live page line', () => /live page: \S+\n/.test(stderr), 30_000);
      const url = /live page: (\S+)\n/.exec(stderr)![1]!;
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
      const res = await fetch(url);
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('data-panel="records"');
      child.kill('SIGTERM');
      expect(await closed).toBe(143);
      expect(await refused(url)).toBe(true);
    } finally {
      child.kill('SIGKILL');
    }
  }, 60_000);
});
