/**
 * `npm run evaluation-report`: the page holds its five charts and its table, draws each window's figures and
 * intervals, merges the final windows' reliability bins by count, escapes names and loads nothing from elsewhere;
 * headless Chromium parses it into those charts; bad input is refused with its line number.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { evaluationReport, mergedReliability } from '../../../bin/evaluation/report';
import type { EvaluationLine } from '../../../bin/sandbox/file-evaluation';
import { emptyCounts, windowMetrics } from '../../../lambda/core/label-join';
import { runCli } from '../../support/run-cli';

const dir = mkdtempSync(join(tmpdir(), 'evaluation-report-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 0, 15, 9);

/** A final window's measures with the given reliability bins and confusion counts. */
function final(tp: number, fp: number, fn: number, bins: Array<[number, number, number]>): EvaluationLine['final'] {
  const m = windowMetrics({ ...emptyCounts(), predictions: tp + fp + fn + 10, positives: tp + fp, truePositives: tp, falseNegatives: fn }, 'negative');
  const reliability = Array.from({ length: 10 }, (_, r) => {
    const b = bins.find(([i]) => i === r);
    return { lower: r / 10, upper: (r + 1) / 10, count: b ? b[1] : 0, meanScore: b ? r / 10 + 0.05 : null, positiveRate: b ? b[2] : null };
  });
  return { ...m, thresholdFree: { ...m.thresholdFree, rocAuc: 0.8, prAuc: 0.6, reliability } };
}

/** Fields the report does not draw. */
const estimate = { featureEmptyShare: {}, estimatedRocAuc: null, estimateCalibratedOn: 0, estimatedOnEarlierWindows: null };

const lines: EvaluationLine[] = [
  { windowStart: T0, windowEnd: T0 + HOUR, predictions: 40, positives: 6, positiveRate: 0.15, psi: 0, reference: T0, featurePsi: { 'spend<1h>': 0, count: 0 }, estimatedPrecision: 0.7, estimatedRecall: 0.8, ...estimate, final: final(4, 2, 1, [[0, 30, 0.1], [9, 10, 0.8]]) },
  { windowStart: T0 + HOUR, windowEnd: T0 + 2 * HOUR, predictions: 50, positives: 10, positiveRate: 0.2, psi: 0.3, reference: T0, featurePsi: { 'spend<1h>': 0.4, count: null }, estimatedPrecision: 0.6, estimatedRecall: 0.7, ...estimate, final: final(5, 5, 0, [[0, 10, 0.2]]) },
  { windowStart: T0 + 2 * HOUR, windowEnd: T0 + 3 * HOUR, predictions: 45, positives: 9, positiveRate: 0.2, psi: 0.1, reference: T0, featurePsi: { 'spend<1h>': 0.05, count: 0.02 }, estimatedPrecision: 0.65, estimatedRecall: 0.75, ...estimate },
];

const svg = (html: string, id: string): string => {
  const m = new RegExp(`<svg id="${id}"[^>]*>.*?</svg>`, 's').exec(html);
  expect(m, id).not.toBeNull();
  return m![0];
};
const count = (text: string, re: RegExp): number => (text.match(re) ?? []).length;

describe('evaluation report', () => {
  const html = evaluationReport(lines, { source: 'out/evaluation.jsonl' });

  it('holds five charts and a row per window, loading nothing from elsewhere', () => {
    for (const id of ['precision-recall', 'auc', 'calibration', 'estimated', 'feature-psi']) svg(html, id);
    expect(count(html, /<tbody>.*?<\/tbody>/s)).toBe(1);
    expect(count(html, /<tr><td>/g)).toBe(3);
    expect(html).not.toMatch(/<script|\bsrc=|\bhref=|url\(/);
    expect(html.replace(/xmlns="http:\/\/www\.w3\.org\/2000\/svg"/g, '')).not.toMatch(/https?:/);
    // Names are escaped.
    expect(html).toContain('spend&lt;1h&gt;');
    expect(html).not.toContain('spend<1h>');
  });

  it('draws each final window\'s precision and recall with its interval, and a gap for a window not final', () => {
    const pr = svg(html, 'precision-recall');
    expect(count(pr, /<circle[^>]*data-series="precision"/g)).toBe(2);
    expect(count(pr, /class="band" data-series="precision"/g)).toBe(2);
    expect(count(pr, /class="band" data-series="recall"/g)).toBe(2); // recall 4/5 and 5/5
    const est = svg(html, 'estimated');
    expect(count(est, /<circle[^>]*data-series="estimated precision"/g)).toBe(3);
    // The feature without a value in the second window breaks its line in two.
    expect(count(svg(html, 'feature-psi'), /<polyline[^>]*data-series="count"/g)).toBe(2);
  });

  it('merges the final windows\' reliability bins by count', () => {
    const merged = mergedReliability(lines);
    expect(merged[0]).toMatchObject({ count: 40, meanScore: 0.05 });
    expect(merged[0]!.positiveRate).toBeCloseTo((30 * 0.1 + 10 * 0.2) / 40, 12);
    expect(merged[9]).toMatchObject({ count: 10, positiveRate: 0.8 });
    expect(merged.filter((b) => b.count === 0).every((b) => b.meanScore === null)).toBe(true);
    expect(count(svg(html, 'calibration'), /<circle/g)).toBe(2);
  });

  it('is parsed by headless Chromium into its five charts', () => {
    const chromium = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
    if (!existsSync(chromium)) throw new Error(`no Chromium at ${chromium} (set CHROMIUM_PATH)`);
    const page = join(dir, 'report.html');
    writeFileSync(page, html);
    const r = spawnSync(chromium, ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--dump-dom', `file://${page}`], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(count(r.stdout, /<svg /g)).toBe(5);
    expect(r.stdout).toContain('Evaluation report');
  }, 90_000);

  it('writes the page from a file run\'s evaluation.jsonl and names a line that is not a window', async () => {
    const input = join(dir, 'evaluation.jsonl');
    writeFileSync(input, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
    const out = join(dir, 'page.html');
    const ok = await runCli('bin/evaluation-report.ts', ['--evaluation', input, '--out', out]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stderr).toContain('3 windows, 2 final');
    expect(readFileSync(out, 'utf8')).toBe(html.replace('out/evaluation.jsonl', input));
    const bad = join(dir, 'bad.jsonl');
    writeFileSync(bad, `${JSON.stringify(lines[0])}\n{"windows": 3}\n`);
    const refused = await runCli('bin/evaluation-report.ts', ['--evaluation', bad, '--out', out]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`--evaluation ${bad} line 2: not an evaluation window`);
  }, 90_000);
});
