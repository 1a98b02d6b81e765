/**
 * The local page and the file run's report, rendered in headless Chromium: the figures shown equal the run's
 * summary, the panels' totals (from the EMF documents the handlers printed) equal the summary's counts, every
 * chart draws its points, nothing is loaded from elsewhere, and the lookup box answers a key's features.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmfFeed } from '../../../bin/local/dashboard/emf-feed';
import { panelsFor } from '../../../bin/local/dashboard/page';
import { startDashboardServer } from '../../../bin/local/dashboard/server';
import { type Emulators, startEmulators } from '../../../bin/local/emulators';
import { LocalPipeline } from '../../../bin/local/pipeline';
import { runFile } from '../../../bin/sandbox/file-run';
import { FeatureClient } from '../../../lambda/adapters/feature-client';
import { StateStore } from '../../../lambda/adapters/state-store';
import { parseSpecJson } from '../../../lambda/core/spec';
import { REPO_ROOT } from '../../support/run-cli';
import { type TestBrowser, openBrowser } from '../../support/browser';

const raw = JSON.parse(readFileSync(join(REPO_ROOT, 'bin/specs/fraud.json'), 'utf8')) as Record<string, unknown>;
delete raw.scoring;
delete raw.evaluation;
const SPEC = parseSpecJson(JSON.stringify(raw));
const INPUT = join(REPO_ROOT, 'bin/specs/fraud-records.jsonl');
const saved = { ...process.env };
let emulators: Emulators;
let browser: TestBrowser;
const dir = mkdtempSync(join(tmpdir(), 'dashboard-page-'));

beforeAll(async () => {
  [emulators, browser] = await Promise.all([startEmulators(), openBrowser()]);
  Object.assign(process.env, emulators.env());
}, 120_000);

afterAll(async () => {
  process.env = saved;
  await Promise.all([emulators?.stop(), browser?.close()]);
});

const legendTotal = (panel: string, series: string): string => `[data-panel="${panel}"] li[data-series="${series}"] .total`;
const num = (s: string | null): number => Number((s ?? '').replace(/,/g, ''));

describe('local dashboard page', () => {
  it('file mode writes a self-contained report.html whose figures and panel totals equal the run\'s summary', async () => {
    const out = join(dir, 'run');
    const { summary } = await runFile({ spec: SPEC, inputPath: INPUT, outDir: out, shards: 2, batchSize: 20, name: 'report' });
    const onDisk = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as Record<string, number>;
    const p = await browser.open(`file://${join(out, 'report.html')}`);
    try {
      for (const k of ['records', 'applied', 'late', 'invalid', 'future', 'duplicates', 'finalWindows'] as const) {
        expect(num(await p.page.textContent(`tr[data-figure="${k}"] td`)), k).toBe(onDisk[k]);
      }
      // The EMF path counts per invocation; without faults its totals are the summary's.
      expect(num(await p.page.textContent(legendTotal('records', 'RecordsIn')))).toBe(summary.records);
      expect(num(await p.page.textContent(legendTotal('records', 'RecordsApplied')))).toBe(summary.applied);
      expect(num(await p.page.textContent(legendTotal('records', 'LateRecords')))).toBe(summary.late);
      expect(num(await p.page.textContent(legendTotal('records', 'InvalidRecords')))).toBe(summary.invalid);
      expect(num(await p.page.textContent(legendTotal('records', 'FutureRecords')))).toBe(summary.future);
      // Every panel of the definition is there; the record charts draw their points.
      expect(await p.page.locator('section.panel').count()).toBe(panelsFor(SPEC).length);
      const points = await p.page.locator('[data-panel="records"] g.series[data-series="RecordsIn"]').getAttribute('data-points');
      expect(Number(points)).toBeGreaterThan(0);
      const box = await p.page.locator('[data-panel="records"] svg.chart').boundingBox();
      expect(box?.width).toBeGreaterThan(100);
      expect(await p.page.locator('[data-panel="records"] polyline').count()).toBe(7);
      expect(p.blocked).toEqual([]);
      expect(p.errors).toEqual([]);
      await p.screenshot(join(dir, 'report.png'));
    } finally {
      await p.close();
    }
  });

  it('serves the live page on localhost with the running pipeline\'s metrics, shards and a feature lookup', async () => {
    const feed = new EmfFeed();
    const pipeline = await LocalPipeline.start({ spec: SPEC, name: 'live', shards: 2, maximumBatchingWindowMs: 0, onEmf: (d) => feed.add(d) });
    const now = Date.now();
    const records = [0, 1, 2, 3, 4].map((i) => ({ partitionKey: `u${i % 2}`, data: JSON.stringify({ user_id: `u${i % 2}`, event_time: now - 1000 + i, amount: 10 + i, merchant: 'm', event_id: `e${i}` }) }));
    await pipeline.put(records);
    await pipeline.drain();
    const state = new StateStore({ client: pipeline.dynamoClient, tableName: pipeline.names.stateTable });
    const client = new FeatureClient({ spec: SPEC, tableName: pipeline.names.stateTable, dynamo: pipeline.dynamoClient });
    const server = await startDashboardServer({
      title: 'live',
      feed,
      panels: panelsFor(SPEC),
      shards: async () => (await state.scanShards()).map((s) => ({ shard: s.shard, watermark: s.maxEventTime === null ? null : s.maxEventTime - SPEC.watermark.allowedLatenessMs })),
      lookup: async (key) => (await client.getFeatures([key]))[0],
    });
    const p = await browser.open(server.url);
    try {
      expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
      expect(num(await p.page.textContent(legendTotal('records', 'RecordsIn')))).toBe(5);
      expect(num(await p.page.textContent(legendTotal('records', 'RecordsApplied')))).toBe(5);
      expect(await p.page.locator('table.shards tr[data-shard]').count()).toBe(2);
      await p.page.fill('#key', 'u0');
      await p.page.click('button[type="submit"]');
      await p.page.waitForFunction("document.getElementById('lookup-result').dataset.status === '200'");
      const answer = JSON.parse((await p.page.textContent('#lookup-result'))!) as { key: string; features: Record<string, { value: unknown }> };
      expect(answer.key).toBe('u0');
      expect(Object.keys(answer.features).sort()).toEqual(SPEC.features.map((f) => f.name).sort());
      // The page refreshes its panels from /panels: more records show up without a reload.
      await pipeline.put([{ partitionKey: 'u9', data: JSON.stringify({ user_id: 'u9', event_time: now, amount: 1, merchant: 'm', event_id: 'e9' }) }]);
      await pipeline.drain();
      await p.page.waitForFunction(`document.querySelector('[data-panel="records"] li[data-series="RecordsIn"] .total').textContent === '6'`, undefined, { timeout: 10_000 });
      expect(p.blocked).toEqual([]);
      expect(p.errors).toEqual([]);
      await p.screenshot(join(dir, 'live.png'));
    } finally {
      await p.close();
      await server.close();
      await pipeline.stop();
    }
  });
});
