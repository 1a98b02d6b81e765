import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ArrivalLedger, ArrivalNotYetKnownError, NO_ARRIVAL_CHECK } from '../../../bin/sandbox/arrivals';
import { ChaosError, FaultInjector, InjectedFault } from '../../../bin/sandbox/chaos';
import { compareOutputs, describeComparison } from '../../../bin/sandbox/compare';
import { UNKEYED_PARTITION_KEY, checkInputFile, deadLetterToRejectedLine, partitionKeyOf, sortWindows, summarize } from '../../../bin/sandbox/file-run';
import { fitWidth, waveNote } from '../../../bin/sandbox/demo';
import { percentile, renderTable } from '../../../bin/sandbox/format';
import { COMMUTER, FRAUDSTER, buildStory } from '../../../bin/sandbox/story';
import { toDeadLetter } from '../../../lambda/adapters/dead-letters';
import { emptySummary, type RejectedLine } from '../../../lambda/core/output';
import { parseSpecJson } from '../../../lambda/core/spec';

const dirs: string[] = [];
function outputDir(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'sandbox-parts-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  return dir;
}
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const SPEC = parseSpecJson(
  JSON.stringify({
    source: { keyField: 'user_id', timeField: 'event_time' },
    watermark: { allowedLatenessMs: 1000 },
    features: [
      { name: 'a', window: { type: 'tumbling', sizeMs: 60_000 }, aggregate: 'count' },
      { name: 'b', window: { type: 'tumbling', sizeMs: 120_000 }, aggregate: 'count' },
    ],
  }),
);

describe('compareOutputs', () => {
  it('ignores line order and key order, and counts repeated lines', () => {
    const a = outputDir({ 'windows.jsonl': '{"feature":"f","key":"k","windowStart":0}\n{"feature":"g","key":"k","windowStart":0}\n', 'rejected.jsonl': '' });
    const b = outputDir({ 'windows.jsonl': '{"key":"k","feature":"g","windowStart":0}\n{"windowStart":0,"key":"k","feature":"f"}\n', 'rejected.jsonl': '\n' });
    expect(compareOutputs(a, b).equal).toBe(true);
    const c = outputDir({ 'windows.jsonl': '{"feature":"f","key":"k","windowStart":0}\n{"feature":"f","key":"k","windowStart":0}\n', 'rejected.jsonl': '' });
    const diff = compareOutputs(a, c);
    expect(diff.equal).toBe(false);
    expect(diff.files[0]).toMatchObject({ file: 'windows.jsonl', onlyInA: ['{"feature":"g","key":"k","windowStart":0}'], onlyInB: ['{"feature":"f","key":"k","windowStart":0}'] });
    expect(describeComparison(diff, ['replay', 'sandbox'])).toContain('only in sandbox: {"feature":"f"');
  });

  it('compares every field of rejected lines', () => {
    const line = { reason: 'late', feature: 'a', message: 'm', line: 3, shard: 's', watermark: 10, data: '{}' };
    const a = outputDir({ 'windows.jsonl': '', 'rejected.jsonl': `${JSON.stringify(line)}\n` });
    const b = outputDir({ 'windows.jsonl': '', 'rejected.jsonl': `${JSON.stringify({ ...line, watermark: 11 })}\n` });
    expect(compareOutputs(a, b).equal).toBe(false);
  });
});

describe('FaultInjector', () => {
  it('never fails at probability 0 and refuses probabilities outside 0..1', async () => {
    const f = new FaultInjector({ probability: 0 });
    for (let i = 0; i < 50; i++) {
      f.beforeInvoke();
      for (let w = 0; w < 20; w++) await f.writeGate('PutItem');
    }
    expect(f.faults).toBe(0);
    expect(() => new FaultInjector({ probability: 1.5 })).toThrow(ChaosError);
  });

  it('at probability 1 fails each invocation once, with a named error, after at most the writes seen so far', async () => {
    const f = new FaultInjector({ probability: 1, seed: 3 });
    for (let i = 0; i < 20; i++) {
      f.beforeInvoke();
      let thrown: unknown;
      for (let w = 0; w < 30 && !thrown; w++) await f.writeGate(`write ${w}`).catch((e: unknown) => (thrown = e));
      expect(thrown).toBeInstanceOf(InjectedFault);
      expect((thrown as Error).name).toBe('InjectedFault');
    }
    expect(f.faults).toBe(20);
  });
});

describe('ArrivalLedger', () => {
  it('holds back records of a put in flight and answers for records put by others', async () => {
    const ledger = new ArrivalLedger();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const put = ledger.put([5_000, undefined], async () => {
      await gate;
      return [{ shard: 's', seq: '1' }, { shard: 's', seq: '2' }];
    });
    expect(() => ledger.clock('s', '1')).toThrow(ArrivalNotYetKnownError);
    release();
    await put;
    expect(ledger.clock('s', '1')).toBe(5_000);
    expect(ledger.clock('s', '2')).toBe(NO_ARRIVAL_CHECK);
    expect(ledger.clock('s', '3')).toBeUndefined();
    expect(ledger.waits).toBe(1);
  });
});

describe('file export helpers', () => {
  it('partition keys follow the key field, as strings', () => {
    expect(partitionKeyOf('{"user_id":"u1"}', 'user_id')).toBe('u1');
    expect(partitionKeyOf('{"user_id":42}', 'user_id')).toBe(partitionKeyOf('{"user_id":"42"}', 'user_id'));
    expect(partitionKeyOf('{"user_id":', 'user_id')).toBe(UNKEYED_PARTITION_KEY);
    expect(partitionKeyOf('[1]', 'user_id')).toBe(UNKEYED_PARTITION_KEY);
    expect(partitionKeyOf(JSON.stringify({ user_id: 'x'.repeat(300) }), 'user_id')).toHaveLength(64);
  });

  it('dead letters become rejected lines with the original payload, base64 or not', () => {
    const rejection = { reason: 'invalid' as const, message: 'bad', shard: 's', seq: '9', watermark: null, data: new Uint8Array([0xff, 0x7b]) };
    const m = toDeadLetter(rejection);
    expect(m.payloadEncoding).toBe('base64');
    expect(deadLetterToRejectedLine(m, 4)).toEqual({ reason: 'invalid', message: 'bad', line: 4, shard: 's', watermark: null, data: Buffer.from([0xff, 0x7b]).toString('utf8') });
    const late = toDeadLetter({ ...rejection, reason: 'late', feature: 'a', data: '{"user_id":"u"}', eventTime: 1, key: 'u', watermark: 5 });
    expect(deadLetterToRejectedLine(late, 2)).toEqual({ reason: 'late', feature: 'a', message: 'bad', line: 2, shard: 's', watermark: 5, eventTime: 1, key: 'u', data: '{"user_id":"u"}' });
  });

  it('sorts windows by feature, key and start', () => {
    const w = (feature: string, key: string, windowStart: number) => ({ feature, key, windowStart, windowEnd: windowStart + 1, value: 1, count: 1 });
    expect(sortWindows([w('b', 'k', 0), w('a', 'k', 5), w('a', 'k', 1), w('a', 'j', 9)]).map((x) => `${x.feature}${x.key}${x.windowStart}`)).toEqual(['aj9', 'ak1', 'ak5', 'bk0']);
  });

  it('counts late pairs and records late everywhere from the dead letters', () => {
    const r = (reason: RejectedLine['reason'], line: number, feature?: string): RejectedLine => ({ reason, line, message: '', shard: 's', watermark: null, data: '', ...(feature ? { feature } : {}) });
    const rejected = [r('late', 1, 'a'), r('late', 1, 'b'), r('late', 2, 'a'), r('invalid', 3), r('future', 4)];
    // Corrections come from what was stored, not from the invocations' counters.
    const counted = { ...emptySummary(), duplicates: 2, late: 1, corrections: 9 };
    expect(summarize(SPEC, 10, counted, rejected, 7, 4)).toEqual({ records: 10, applied: 5, late: 3, invalid: 1, future: 1, duplicates: 2, lateRecords: 1, finalWindows: 7, corrections: 4, firings: 0 });
  });

  it('refuses a bad input line by number before anything starts', async () => {
    const dir = outputDir({ 'in.jsonl': '{"data":"{}"}\n\n{"data": 5}\n' });
    await expect(checkInputFile(path.join(dir, 'in.jsonl'), SPEC.source)).rejects.toThrow('input line 3: "data" must be a string');
    await expect(checkInputFile(path.join(dir, 'missing.jsonl'), SPEC.source)).rejects.toMatchObject({ name: 'InputFileError' });
  });
});

describe('story', () => {
  const story = buildStory(Date.UTC(2026, 2, 10, 2, 17));

  it('drains the account with 22 payments in 38 minutes, $12,000 in all', () => {
    const fraud = story.records.filter((r) => r.role === 'fraud');
    expect(fraud).toHaveLength(22);
    expect(fraud.every((r) => r.user === FRAUDSTER)).toBe(true);
    const times = fraud.map((r) => r.eventTime);
    expect(Math.max(...times) - Math.min(...times)).toBe(38 * 60_000);
    const cents = fraud.reduce((s, r) => s + Math.round((JSON.parse(r.data) as { amount: number }).amount * 100), 0);
    expect(cents).toBe(1_200_000);
  });

  it('has a phone whose payments arrive 12 minutes late, a day-ahead clock, a malformed record and a retry', () => {
    const subway = story.records.filter((r) => r.role === 'subway');
    expect(subway.every((r) => r.user === COMMUTER)).toBe(true);
    expect(Math.max(...subway.map((r) => r.arrivalTime - r.eventTime))).toBe(12 * 60_000);
    const future = story.records.find((r) => r.role === 'future')!;
    expect(future.eventTime - future.arrivalTime).toBeGreaterThan(23 * 3_600_000);
    expect(story.records.filter((r) => r.role === 'invalid')).toHaveLength(1);
    const dup = story.records.find((r) => r.role === 'duplicate')!;
    expect(story.records.filter((r) => r.data === dup.data)).toHaveLength(2);
  });

  it('has a new shop whose 12 customers pay it once, and a chargeback 2 to 5 days after each fraudulent payment, one after 35', () => {
    const newcomers = story.records.filter((r) => r.role === 'newcomer');
    expect(new Set(newcomers.map((r) => r.user)).size).toBe(12);
    expect(newcomers).toHaveLength(12);
    expect(newcomers.every((r) => r.data.includes('"merchant":"m_new_electronics"'))).toBe(true);
    const fraud = new Map(story.records.filter((r) => r.role === 'fraud').map((r) => [(JSON.parse(r.data) as { event_id: string }).event_id, r.eventTime]));
    expect(story.labels.map((l) => l.eventId).sort()).toEqual([...fraud.keys()].sort());
    const delays = story.labels.map((l) => (l.labelTime - fraud.get(l.eventId)!) / 86_400_000).sort((a, b) => a - b);
    expect(delays[0]).toBeGreaterThanOrEqual(2);
    expect(delays[delays.length - 2]).toBeLessThanOrEqual(5);
    expect(delays[delays.length - 1]).toBe(35);
    expect(story.labels.map((l) => l.labelTime)).toEqual([...story.labels.map((l) => l.labelTime)].sort((a, b) => a - b));
  });

  it('ends before the current minute and puts every record in exactly one wave, in arrival order', () => {
    const now = Date.UTC(2026, 2, 10, 2, 17);
    expect(Math.max(...story.records.map((r) => r.arrivalTime))).toBeLessThan(now);
    const waved = story.waves.flatMap((w) => w.records);
    expect(waved).toHaveLength(story.records.length);
    expect(waved.map((r) => r.arrivalTime)).toEqual([...waved.map((r) => r.arrivalTime)].sort((a, b) => a - b));
  });
});

describe('story table', () => {
  const story = buildStory(Date.UTC(2026, 2, 10, 2, 17));
  const sum = (re: RegExp) => story.waves.map((w) => waveNote(w, COMMUTER)).reduce((n, note) => n + Number(re.exec(note)?.[1] ?? 0), 0);

  it('counts every payment of the commuter under U×n and only the other customers under +n', () => {
    expect(sum(/U×(\d+)/)).toBe(story.records.filter((r) => r.user === COMMUTER).length);
    expect(sum(/(?:^| )\+(\d+)/)).toBe(story.records.filter((r) => r.role === 'ordinary' && r.user !== COMMUTER).length);
    expect(sum(/F×(\d+)/)).toBe(22);
  });

  it('cuts long lines to the terminal width, and nothing without one', () => {
    const text = `${'a'.repeat(30)}\nshort\n`;
    expect(fitWidth(text, 10)).toBe(`${'a'.repeat(9)}…\nshort\n`);
    expect(fitWidth(text, undefined)).toBe(text);
  });
});

describe('format', () => {
  it('nearest-rank percentiles and padded tables', () => {
    expect(percentile([], 50)).toBeUndefined();
    expect(percentile([5, 1, 3, 2, 4], 50)).toBe(3);
    expect(percentile([5, 1, 3, 2, 4], 99)).toBe(5);
    expect(renderTable([{ header: 'a', align: 'l' }, { header: 'bb' }], [['xyz', '1']])).toBe('  a    bb\n  ---  --\n  xyz   1\n');
  });
});
