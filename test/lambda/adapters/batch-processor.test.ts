/**
 * The consumer's exactly-once effect under at-least-once delivery, against real emulators (dynalite, fauxqs):
 * crashes after k of n writes, whole-batch re-delivery, bisected halves, partial-failure suffixes, producer
 * duplicates and throttling must all leave DynamoDB, the result objects in S3 and the dead-letter queue exactly as
 * one clean delivery.
 */
import { type AttributeValue, ScanCommand } from '@aws-sdk/client-dynamodb';
import { DeleteMessageBatchCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Emulators } from '../../../bin/local/emulators';
import { workerEmulators } from '../../support/worker-emulators';
import { prng } from '../../../bin/bench/workload';
import { type BatchOutcome, processBatch } from '../../../lambda/adapters/batch-processor';
import { ResultObjectReader } from '../../../lambda/adapters/result-objects';
import { StateStore, type WriteGate } from '../../../lambda/adapters/state-store';
import { ByteWriter } from '../../../lambda/core/aggregates/bytes';
import { type InputRecord, WindowEngine, idRetentionMs } from '../../../lambda/core/engine';
import { decodeIdPage, decodeKeyItem } from '../../../lambda/core/key-item';
import { type PipelineSpec, correctionHorizonMs, parseSpec } from '../../../lambda/core/spec';
import { featureRuntimes } from '../../../lambda/core/windows';
import { type ConsumerEnv, consumerStores, freshConsumerEnv } from '../../support/consumer-env';

const SHARD = 'shardId-000000000000';
const T0 = Date.UTC(2026, 0, 1, 10, 0, 0);

const specFor = (latePolicy: 'dlq' | 'update'): PipelineSpec => parseSpec({
  source: { keyField: 'user', timeField: 'ts', idField: 'id' },
  watermark: { allowedLatenessMs: 5_000, maxFutureSkewMs: 60_000 },
  latePolicy,
  features: [
    { name: 'count_1m', window: { type: 'tumbling', sizeMs: 60_000 }, aggregate: 'count' },
    { name: 'sum_2m_every_30s', window: { type: 'sliding', sizeMs: 120_000, slideMs: 30_000 }, aggregate: 'sum', field: 'amount' },
    { name: 'session_max', window: { type: 'session', gapMs: 45_000 }, aggregate: 'max', field: 'amount' },
  ],
});
const dlqSpec = specFor('dlq');
/** The dlq spec plus sketch, first/last and global-window features (firings are outputs like final windows). */
const sketchSpec = parseSpec({
  source: { keyField: 'user', timeField: 'ts', idField: 'id' },
  watermark: { allowedLatenessMs: 5_000, maxFutureSkewMs: 60_000 },
  features: [
    ...dlqSpec.features,
    { name: 'distinct_amounts_2m_every_30s', window: { type: 'sliding', sizeMs: 120_000, slideMs: 30_000 }, aggregate: 'distinct', field: 'amount' },
    { name: 'p90_amount_1m', window: { type: 'tumbling', sizeMs: 60_000 }, aggregate: 'percentile', field: 'amount', percentile: 0.9 },
    { name: 'last_amount_session', window: { type: 'session', gapMs: 45_000 }, aggregate: 'last', field: 'amount' },
    { name: 'sum_every_4', window: { type: 'global', trigger: { count: 4, purge: true } }, aggregate: 'sum', field: 'amount' },
    { name: 'distinct_every_30s', window: { type: 'global', trigger: { everyMs: 30_000 } }, aggregate: 'distinct', field: 'amount' },
  ],
});

/** A stream with late, duplicate, invalid and future records; seq numbers shaped like Kinesis' (56 digits). */
function makeRecords(n: number, seed: number): InputRecord[] {
  const rnd = prng(seed);
  const out: InputRecord[] = [];
  let t = T0;
  for (let i = 0; i < n; i++) {
    t += Math.floor(rnd() * 4000);
    const seq = (BigInt('49650000000000000000000000000000000000000000000000000000') + BigInt(i * 7 + 1)).toString();
    const u = rnd();
    let payload: string;
    let arrival = t + 200;
    if (u < 0.03) payload = '{"user": "broken", ts:';
    else if (u < 0.05) payload = JSON.stringify({ user: `u${i % 5}`, ts: t + 86_400_000, amount: 1, id: `e${i}` });
    else if (u < 0.12) payload = JSON.stringify({ user: `u${i % 5}`, ts: t - 40_000 - Math.floor(rnd() * 60_000), amount: 3, id: `e${i}` });
    else payload = JSON.stringify({ user: `u${Math.floor(rnd() * 5)}`, ts: t, amount: Math.floor(rnd() * 100), id: `e${i}` });
    if (u > 0.95 && out.length > 0) {
      // Producer retry: the same payload again, later, under a new sequence number.
      payload = Buffer.from(out[out.length - 1]!.data).toString('utf8');
      arrival += 1000;
    }
    out.push({ data: Buffer.from(payload, 'utf8'), shard: SHARD, seq, arrivalTime: arrival });
  }
  return out;
}

class InjectedFault extends Error {
  public constructor(message: string) {
    super(message);
    this.name = 'InjectedFault';
  }
}

type Env = ConsumerEnv;

let emulators: Emulators;

const freshEnv = (): Promise<Env> => freshConsumerEnv('t');

function deliver(spec: PipelineSpec, env: Env, records: readonly InputRecord[], gate?: WriteGate): Promise<BatchOutcome> {
  return processBatch(records, {
    spec,
    pipelineName: 'test',
    ...consumerStores(env, gate),
    now: () => T0 + 3_600_000,
  });
}

/** Fails the k-th write (0-based) once; `name` picks the error (a crash, or DynamoDB throttling). */
function failAfter(k: number, name = 'InjectedFault'): WriteGate {
  let n = 0;
  return (what) => {
    if (n++ === k) {
      const e = new InjectedFault(`injected before write ${k}: ${what}`);
      e.name = name;
      throw e;
    }
  };
}

/** Ids with event times at or before this are past retention by the end of the test stream. */
let idHorizon = -Infinity;

/** One record of `user` at event time t, sequence number seq. */
function recordOf(user: string, t: number, seq: number, arrivalTime = t): InputRecord {
  return { data: Buffer.from(JSON.stringify({ user, ts: t, amount: 1, id: `${user}${seq}` })), shard: SHARD, seq: String(seq), arrivalTime };
}

/** Crashes once, at the first write the predicate picks. */
function crashOnce(at: (what: string) => boolean, label: string): WriteGate {
  let crashed = false;
  return (what) => {
    if (!crashed && at(what)) {
      crashed = true;
      throw new InjectedFault(`injected at ${label}`);
    }
  };
}

/**
 * What must come out the same however deliveries were cut, crashed and retried: per key its open windows, newest
 * event, last applied sequence numbers, the producer ids still within retention (inline or in pages) and, under
 * "update", the final windows still correctable at the end; each key's timer entry for its next due time; the
 * shard checkpoint; every result line in S3; every dead letter. Left out: finalThrough and the shard's newest event
 * time as of a key's last write (where a batch was split decides them), and how ids and timers are paged.
 */
async function snapshot(env: Env, spec: PipelineSpec): Promise<{ state: string[]; results: string[]; deadLetters: string[] }> {
  const runtime = featureRuntimes(spec);
  const items: Array<Record<string, AttributeValue>> = [];
  let start: Record<string, AttributeValue> | undefined;
  do {
    const res = await env.dynamo.send(new ScanCommand({ TableName: env.stateTable, ConsistentRead: true, ...(start ? { ExclusiveStartKey: start } : {}) }));
    items.push(...(res.Items ?? []));
    start = res.LastEvaluatedKey;
  } while (start);
  const shardItem = items.find((it) => it.pk!.S!.startsWith('shard#'));
  const wEnd = Number(shardItem?.maxEventTime?.N ?? -Infinity) - spec.watermark.allowedLatenessMs;
  const firedThrough = Number(shardItem?.firedThrough?.N ?? -Infinity);
  const timers = new Set<string>();
  for (const it of items) if (it.pk!.S!.startsWith('timers#')) for (const e of JSON.parse(it.entries!.S!) as Array<{ key: string; due: number }>) timers.add(`${it.pk!.S!.slice(7)}|${e.key}|${e.due}`);
  const pages = new Map<string, Map<number, number>>();
  for (const it of items) {
    if (!it.sk!.S!.startsWith('ids#')) continue;
    const ids = pages.get(it.pk!.S!) ?? new Map<number, number>();
    decodeIdPage(it.ids!.B!, ids);
    pages.set(it.pk!.S!, ids);
  }
  const out: string[] = [];
  for (const it of items) {
    const pk = it.pk!.S!;
    if (pk.startsWith('shard#')) out.push(JSON.stringify({ pk, maxEventTime: it.maxEventTime, checkpoint: it.checkpoint, firedThrough: it.firedThrough }));
    if (it.sk!.S! !== 'state') continue;
    const key = pk.slice('entity#'.length);
    const d = decodeKeyItem(runtime, key, it.s!.B!);
    // The effective state: windows a timer fired after the key's last write are skipped as the next load would.
    const engine = new WindowEngine(spec);
    engine.loadKey(key, d);
    engine.skipFired(key, () => firedThrough);
    const ids = [...d.ids, ...(pages.get(pk) ?? [])].filter(([, t]) => t > idHorizon).map(([h]) => h).sort((a, b) => a - b);
    const ents = d.ents.map((e, fi) => {
      if (e === undefined) return null;
      const f = runtime[fi]!;
      const w = new ByteWriter();
      f.window.write(w, e);
      const finals = e.kind === 'slices' && e.finals ? [...e.finals].filter(([s]) => s + (f.spec.window as { sizeMs: number }).sizeMs > wEnd - correctionHorizonMs(spec)).map(([s, v]) => [s, f.agg.result(v.acc)]) : [];
      return { maxEventTime: e.maxEventTime, timerShard: e.timerShard ?? null, windows: [...w.finish()].join(','), finals };
    });
    // Every key with a window pending has a timer entry at its next due time.
    let due = Infinity;
    let dueShard: string | undefined;
    for (const e of d.ents) if (e && e.due < due) [due, dueShard] = [e.due, e.timerShard];
    const timed = Number.isFinite(due) ? timers.has(`${dueShard}|${key}|${due}`) : null;
    out.push(JSON.stringify({ key, applied: [...d.shards].map(([s, p]) => [s, p.lastApplied]), ids, ents, timed }));
  }
  const reader = new ResultObjectReader({ client: env.s3, bucket: env.bucket });
  const results = [
    ...(await reader.readWindows('test')).map((w) => `window ${JSON.stringify(w)}`),
    ...(await reader.readFirings('test')).map((f) => `firing ${JSON.stringify(f)}`),
    ...(await reader.readCorrections('test')).map((c) => `correction ${JSON.stringify(c)}`),
  ];
  const deadLetters: string[] = [];
  for (let empty = 0; empty < 2; ) {
    const res = await env.sqs.send(new ReceiveMessageCommand({ QueueUrl: env.queueUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 60 }));
    const msgs = res.Messages ?? [];
    if (msgs.length === 0) {
      empty++;
      continue;
    }
    deadLetters.push(...msgs.map((m) => m.Body!));
    await env.sqs.send(new DeleteMessageBatchCommand({ QueueUrl: env.queueUrl, Entries: msgs.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })) }));
  }
  return { state: out.sort(), results: results.sort(), deadLetters: deadLetters.sort() };
}

function chunks<T>(xs: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += size) out.push(xs.slice(i, i + size));
  return out;
}

beforeAll(async () => {
  emulators = await workerEmulators();
  Object.assign(process.env, emulators.env());
}, 60_000);

afterAll(async () => {
  await emulators?.stop();
});

describe.each(['dlq', 'update', 'sketches'] as const)('batch processor against emulators, spec %s', (variant) => {
  const policy = variant === 'update' ? 'update' : 'dlq';
  const spec = variant === 'sketches' ? sketchSpec : specFor(policy);
  const records = makeRecords(240, 11);
  const batches = chunks(records, 40);
  let clean: Awaited<ReturnType<typeof snapshot>>;
  const cleanTotals = { records: 0, applied: 0, lateRecords: 0, invalid: 0, future: 0, duplicates: 0, late: 0 };

  beforeAll(async () => {
    const env = await freshEnv();
    const eventTime = (r: InputRecord): number => {
      try {
        return (JSON.parse(Buffer.from(r.data).toString('utf8')) as { ts: number }).ts;
      } catch {
        return 0;
      }
    };
    const maxT = Math.max(...records.map(eventTime).filter((t) => t < T0 + 86_400_000));
    // Watermark at the end minus the retention the consumer applies, with a minute of slack.
    idHorizon = maxT - 5_000 - idRetentionMs(spec) + 60_000;
    for (const b of batches) {
      const o = await deliver(spec, env, b);
      for (const k of Object.keys(cleanTotals) as (keyof typeof cleanTotals)[]) cleanTotals[k] += o.counters[k];
    }
    clean = await snapshot(env, spec);
  }, 60_000);

  it('a clean run exercises every path and its accounting holds exactly', () => {
    const t = cleanTotals;
    expect(t.records).toBe(records.length);
    expect(t.records).toBe(t.applied + t.lateRecords + t.invalid + t.future + t.duplicates);
    for (const k of ['applied', 'late', 'invalid', 'future', 'duplicates'] as const) expect(t[k], k).toBeGreaterThan(0);
    expect(clean.results.some((f) => f.startsWith('window '))).toBe(true);
    expect(clean.state.every((x) => !x.includes('"timed":false'))).toBe(true);
    if (variant === 'sketches') {
      // Both triggers fired: count firings every 4 records of a key, time firings as the watermark passed 30 s steps.
      expect(clean.results.some((f) => f.includes('"feature":"sum_every_4"') && f.includes('"trigger":"count"'))).toBe(true);
      expect(clean.results.some((f) => f.includes('"feature":"distinct_every_30s"') && f.includes('"trigger":"time"'))).toBe(true);
    }
    const reasons = new Set(clean.deadLetters.map((d) => (JSON.parse(d) as { reason: string }).reason));
    // Under "update" only the session feature's late records are dead letters; the others become corrections.
    expect([...reasons].sort()).toEqual(['future', 'invalid', 'late']);
    if (policy === 'update') expect(clean.results.some((f) => f.startsWith('correction '))).toBe(true);
    // Late letters carry the full payload, the feature, the watermark at arrival, shard and sequence number.
    const late = clean.deadLetters.map((d) => JSON.parse(d) as Record<string, unknown>).find((d) => d.reason === 'late')!;
    expect(late).toMatchObject({ shard: SHARD, payloadEncoding: 'utf8', truncated: false });
    expect(typeof late.feature).toBe('string');
    expect(typeof late.watermark).toBe('number');
    expect(records.some((r) => r.seq === late.sequenceNumber && Buffer.from(r.data).toString('utf8') === late.payload)).toBe(true);
  });

  it('crashes after k of n writes, whole-batch retries, bisected halves and re-delivered suffixes leave the clean state', async () => {
    const env = await freshEnv();
    const rnd = prng(5);
    for (const b of batches) {
      // First delivery crashes after a random number of its writes.
      await expect(deliver(spec, env, b, failAfter(Math.floor(rnd() * 6)))).rejects.toThrow(/injected/);
      // Lambda bisects the failed batch: the first half succeeds, the second half crashes again, then succeeds.
      const mid = Math.ceil(b.length / 2);
      await deliver(spec, env, b.slice(0, mid));
      await expect(deliver(spec, env, b.slice(mid), failAfter(Math.floor(rnd() * 4)))).rejects.toThrow(/injected/);
      await deliver(spec, env, b.slice(mid));
      // A partial-failure checkpoint re-delivers everything after some record, and a whole batch comes again.
      await deliver(spec, env, b.slice(Math.floor(rnd() * b.length)));
      await deliver(spec, env, b);
    }
    expect(await snapshot(env, spec)).toEqual(clean);
  }, 120_000);

  it('throttling that outlasts the retries fails the batch cleanly, and its retry is harmless', async () => {
    const env = await freshEnv();
    const rnd = prng(9);
    for (const b of batches) {
      const err = deliver(spec, env, b, failAfter(Math.floor(rnd() * 10), 'ProvisionedThroughputExceededException'));
      await expect(err).rejects.toMatchObject({ name: 'ProvisionedThroughputExceededException' });
      await deliver(spec, env, b);
    }
    expect(await snapshot(env, spec)).toEqual(clean);
  }, 120_000);

  it('counts a re-delivered batch as re-delivered, never twice', async () => {
    const env = await freshEnv();
    const first = await deliver(spec, env, batches[0]!);
    const again = await deliver(spec, env, batches[0]!);
    expect(again.skipped).toBe(batches[0]!.length);
    expect(again.counters.records).toBe(0);
    expect(first.counters.applied).toBeGreaterThan(0);
  });
});

describe('timers', () => {
  it('a crash at the timer write leaves no key without the timer that fires its next window', async () => {
    const first = [recordOf('solo', T0 + 1_000, 1)];
    const second = [recordOf('solo', T0 + 70_000, 2)];
    const cleanEnv = await freshEnv();
    await deliver(dlqSpec, cleanEnv, first);
    await deliver(dlqSpec, cleanEnv, second);
    const clean = await snapshot(cleanEnv, dlqSpec);
    expect(clean.state.some((x) => x.includes('"timed":true'))).toBe(true);

    const env = await freshEnv();
    await deliver(dlqSpec, env, first);
    // The second batch moves the key's next window end; crash right at the timer write, then retry.
    const gate = crashOnce((what) => what === `BatchWriteItem ${env.stateTable}`, 'the timer write');
    await expect(deliver(dlqSpec, env, second, gate)).rejects.toThrow(/timer write/);
    await deliver(dlqSpec, env, second);
    expect(await snapshot(env, dlqSpec)).toEqual(clean);
  });
});

describe('timers and finals under a crash', () => {
  it('a crash at the final results never deletes the timer of the key whose window was due', async () => {
    const first = [recordOf('solo', T0 + 1_000, 1)];
    // Another key moves the watermark past solo's first window: solo is fired from its timer, not from a record.
    const second = [recordOf('other', T0 + 70_000, 2)];
    const cleanEnv = await freshEnv();
    await deliver(dlqSpec, cleanEnv, first);
    await deliver(dlqSpec, cleanEnv, second);
    const clean = await snapshot(cleanEnv, dlqSpec);
    expect(clean.results.some((f) => f.includes('"key":"solo"') && f.includes('"feature":"count_1m"'))).toBe(true);

    const env = await freshEnv();
    await deliver(dlqSpec, env, first);
    const gate = crashOnce((what) => what.startsWith('PutObject finals/'), 'the final results');
    await expect(deliver(dlqSpec, env, second, gate)).rejects.toThrow(/final results/);
    await deliver(dlqSpec, env, second);
    expect(await snapshot(env, dlqSpec)).toEqual(clean);
  });
});

describe('counters after a retry', () => {
  it('count a re-delivered late record as late again, without a second dead letter', async () => {
    const rec = (t: number, seq: number): InputRecord => recordOf('a', t, seq, T0 + 300_000);
    const first = [rec(T0 + 200_000, 1)];
    // Late for every feature (the watermark is at +195 s), then one on time.
    const second = [rec(T0 + 1_000, 2), rec(T0 + 210_000, 3)];
    const cleanEnv = await freshEnv();
    await deliver(dlqSpec, cleanEnv, first);
    const clean = await deliver(dlqSpec, cleanEnv, second);
    expect(clean.counters).toMatchObject({ applied: 1, late: 3, lateRecords: 1 });

    const env = await freshEnv();
    await deliver(dlqSpec, env, first);
    // Crash after the key's state is written, just before the shard watermark: the retry re-delivers both.
    const gate = crashOnce((what) => what.startsWith('PutItem watermark'), 'the watermark write');
    await expect(deliver(dlqSpec, env, second, gate)).rejects.toThrow(/watermark write/);
    const retry = await deliver(dlqSpec, env, second);
    expect(retry.counters).toMatchObject({ applied: 1, late: 3, lateRecords: 1, redelivered: 1 });
    expect(retry.deadLetters).toBe(0);
    const [a, b] = [await snapshot(cleanEnv, dlqSpec), await snapshot(env, dlqSpec)];
    expect(b).toEqual(a);
    expect(a.deadLetters).toHaveLength(3);
  });
});

describe('counters after a retry under update', () => {
  it('report what the first delivery did: a late record applied to its final windows counts as applied', async () => {
    const spec = specFor('update');
    const rec = (t: number, seq: number): InputRecord => recordOf('a', t, seq, T0 + 300_000);
    const first = [rec(T0 + 200_000, 1)];
    const second = [rec(T0 + 1_000, 2), rec(T0 + 210_000, 3)];
    const cleanEnv = await freshEnv();
    await deliver(spec, cleanEnv, first);
    const clean = await deliver(spec, cleanEnv, second);
    expect(clean.counters).toMatchObject({ applied: 2, late: 3, lateRecords: 0 });

    const env = await freshEnv();
    await deliver(spec, env, first);
    const gate = crashOnce((what) => what.startsWith('PutItem watermark'), 'the watermark write');
    await expect(deliver(spec, env, second, gate)).rejects.toThrow(/watermark write/);
    const retry = await deliver(spec, env, second);
    expect(retry.counters).toMatchObject({ applied: 2, late: 3, lateRecords: 0 });
    expect(await snapshot(env, spec)).toEqual(await snapshot(cleanEnv, spec));
  });
});

describe('shard watermark', () => {
  it('never decreases under concurrent writers', async () => {
    const env = await freshEnv();
    const store = new StateStore({ client: env.dynamo, tableName: env.stateTable });
    const shard = 'shardId-000000000007';
    const rnd = prng(3);
    let max = -Infinity;
    for (let round = 0; round < 5; round++) {
      const read = await store.getShard(shard);
      // Eight writers that all read the same version race to advance it, some with stale (smaller) values.
      const values = Array.from({ length: 8 }, () => T0 + Math.floor(rnd() * 1_000_000));
      await Promise.all(values.map((v, i) => store.advanceShard(read, v, String(1000 * round + i), T0)));
      max = Math.max(max, ...values);
      const after = await store.getShard(shard);
      expect(after.maxEventTime).toBe(max);
      expect(after.checkpoint).toBe(String(1000 * round + 7));
      expect(after.version).toBeGreaterThan(read.version);
    }
  });
});

describe('poison payloads', () => {
  it('rejects malformed, non-object, huge, deeply nested and __proto__-keyed payloads with reasons, and applies the rest', async () => {
    const env = await freshEnv();
    const good = (i: number): string => JSON.stringify({ user: 'ok', ts: T0 + i * 1000, amount: 5, id: `g${i}` });
    const poison = [
      '{"user":',
      '"just a string"',
      '[1,2,3]',
      'null',
      JSON.stringify({ user: 'big', ts: T0, amount: 1, pad: 'x'.repeat(1_048_576) }),
      '['.repeat(200_000) + ']'.repeat(200_000),
      '{"__proto__": {"user": "polluted", "ts": 1767261600000, "amount": 1}}',
      JSON.stringify({ user: 'nan', ts: 'not a time', amount: 1 }),
      JSON.stringify({ user: 'amt', ts: T0, amount: '12' }),
    ];
    const payloads = [good(0), ...poison, good(1)];
    const recs: InputRecord[] = payloads.map((p, i) => ({ data: Buffer.from(p, 'utf8'), shard: SHARD, seq: String(100 + i), arrivalTime: T0 + 5000 }));
    const o = await deliver(dlqSpec, env, recs);
    expect(o.counters.invalid).toBe(poison.length);
    expect(o.counters.applied).toBe(2);
    expect(({} as Record<string, unknown>).user).toBeUndefined();
    const { deadLetters } = await snapshot(env, dlqSpec);
    const letters = deadLetters.map((d) => JSON.parse(d) as { reason: string; message: string; truncated: boolean; payloadBytes: number });
    expect(letters).toHaveLength(poison.length);
    expect(letters.every((l) => l.reason === 'invalid' && l.message.length > 0)).toBe(true);
    const huge = letters.find((l) => l.payloadBytes > 1_000_000)!;
    expect(huge.truncated).toBe(true);
    expect(huge.message).toMatch(/over the 262144-byte limit/);
    expect(letters.some((l) => l.message === 'user is missing')).toBe(true); // the __proto__-keyed payload
    expect(letters.some((l) => /amount must be a finite number/.test(l.message))).toBe(true);
  }, 60_000);
});
