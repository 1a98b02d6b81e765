/**
 * `npm start`: the story at the top of the README played through the pipeline on emulators, compressed from 42 minutes to
 * seconds. Records are put in waves of two story minutes, each with its story arrival time (so the future guard
 * judges against the story's clock), and after each wave the online features are read back the way a fraud model
 * would read them at that moment.
 */
import { basename, join, relative } from 'node:path';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { ListShardsCommand } from '@aws-sdk/client-kinesis';
import { kinesisClient } from '../local/kinesis-client';
import type { BatchOutcome } from '../../lambda/adapters/batch-processor';
import type { DeadLetterMessage } from '../../lambda/adapters/dead-letters';
import { numberOf } from '../../lambda/adapters/dynamo-io';
import { type ReplaySummary, addCounters, emptySummary } from '../../lambda/core/output';
import { FeatureClient } from '../../lambda/adapters/feature-client';
import type { KeyFeatures } from '../../lambda/core/feature-request';
import type { PipelineSpec } from '../../lambda/core/spec';
import { evaluationCloseLagMs } from '../../lambda/core/label-join';
import { EVENT_SOURCE_DEFAULTS } from '../../lambda/contract/resources';
import type { Emulators } from '../local/emulators';
import { type FeaturesServer, startFeaturesServer } from '../local/features-server';
import { type LivePageOptions, LivePageSource } from './live-page';
import { LocalPipeline } from '../local/pipeline';
import { loadSpecAndModel } from '../cli/spec-file';
import type { Model } from '../../lambda/core/model';
import { type Prediction, featureAgeMs } from '../../lambda/core/scoring';
import type { FinalEvaluationWindow } from '../../lambda/adapters/evaluation-store';
import { ArrivalLedger } from './arrivals';
import { type Column, clock, cut, ms, onFailureLine, percentile, renderTable, streamedTable } from './format';
import { type Story, type StoryRecord, type StoryWave, buildStory } from './story';
import { EXAMPLE_KEY, exampleEvent, exampleShellData } from './producer-example';
import { SANDBOX_STREAM } from './put';

export const DEMO_SPEC_PATH = join(__dirname, '..', 'specs', 'fraud.json');
/** Features shown side by side for the fraudster and an ordinary customer. */
const SHOWN = ['txn_count_5m', 'txn_count_1h_every_5m', 'spend_1h_every_5m'] as const;
const VISIBLE_TIMEOUT_MS = 15_000;

export interface DemoOptions {
  readonly emulators: Emulators;
  /** Keep running after the story for records sent by the user's own producer. */
  readonly follow?: boolean;
  readonly out: (text: string) => void;
  /** Story time ends just before this instant. @default Date.now() */
  readonly now?: number;
  /** @default 'sandbox' */
  readonly name?: string;
  /** Terminal width: long lines (dead-letter messages, payloads) are cut to it. @default no limit */
  readonly width?: number;
  /** With follow: the localhost port of the features endpoint. @default any free port */
  readonly featuresPort?: number;
  /** Serves the live page of the run on localhost. @default none */
  readonly page?: LivePageOptions;
  /** With follow: runs until this settles. @default until the process ends (Ctrl-C) */
  readonly until?: Promise<unknown>;
}

/**
 * Follow mode with the user's own spec: the pipeline on the emulators, the features endpoint on localhost, no
 * story; runs until Ctrl-C, one line per batch.
 */
export async function runFollow(o: Pick<DemoOptions, 'emulators' | 'out' | 'featuresPort' | 'page' | 'until'> & { readonly spec: PipelineSpec; readonly specPath: string; readonly name?: string }): Promise<number> {
  let log: ((t: Timed) => void) | undefined;
  const live = o.page === undefined ? undefined : new LivePageSource(o.page);
  const pipeline = await LocalPipeline.start({
    spec: o.spec,
    name: o.name ?? 'sandbox',
    shards: 2,
    ...(live === undefined ? {} : { onEmf: live.onEmf }),
    onOutcome: (outcome, recordsIn) => {
      live?.outcome(outcome);
      log?.({ at: Date.now(), outcome, recordsIn });
    },
  });
  let server: FeaturesServer | undefined;
  try {
    await live?.start(`Feature pipeline: ${basename(o.specPath)}`, o.spec, pipeline);
    const client = new FeatureClient({ spec: o.spec, tableName: pipeline.names.stateTable, dynamo: pipeline.dynamoClient });
    server = await startFeaturesServer(client, o.featuresPort ?? 0, Date.now, live?.servingRequest);
    o.out(`Pipeline running with your spec (features: ${o.spec.features.map((f) => f.name).join(', ')}).\n`);
    printFollowHelp(o, pipeline, o.spec, server.url, o.specPath);
    log = (t) => o.out(`${clock(t.at)}  ${batchLine(t)}\n`);
    await untilStopped(o.until);
    return 0;
  } finally {
    await Promise.all([live?.close(), server?.close()]);
    await pipeline.stop();
  }
}

/** Until `until` settles, or (without it) until Ctrl-C: the CLI's signal handler ends the process. */
const untilStopped = (until: Promise<unknown> | undefined): Promise<unknown> => until ?? new Promise<never>(() => undefined);

interface Timed {
  readonly at: number;
  readonly outcome: BatchOutcome;
  readonly recordsIn: number;
}

const sleep = (t: number) => new Promise<void>((r) => setTimeout(r, t));

/** Roles whose records reach at least one window (and so update the user's current features). */
const applies = (r: StoryRecord) => r.role === 'fraud' || r.role === 'ordinary' || r.role === 'subway' || r.role === 'newcomer';

/**
 * What a wave carried, in a few characters: F×n and U×n count every payment of the fraudster and of the commuter
 * (on time or late), +n the other customers' payments.
 */
export function waveNote(w: StoryWave, commuter: string): string {
  const n = (role: StoryRecord['role']) => w.records.filter((r) => r.role === role).length;
  const parts: string[] = [];
  if (n('fraud') > 0) parts.push(`F×${n('fraud')}`);
  if (n('duplicate') > 0) parts.push('retry');
  const mine = w.records.filter((r) => r.user === commuter && applies(r));
  const subway = mine.filter((r) => r.role === 'subway');
  if (mine.length > 0) parts.push(`U×${mine.length}${subway.length > 0 ? ` late≤${Math.round(Math.max(...subway.map((r) => r.arrivalTime - r.eventTime)) / 60_000)}m` : ''}`);
  if (n('future') > 0) parts.push('clock+1d');
  if (n('invalid') > 0) parts.push('malformed');
  const others = w.records.filter((r) => r.role === 'ordinary' && r.user !== commuter).length;
  if (others > 0) parts.push(`+${others}`);
  if (n('newcomer') > 0) parts.push(`new×${n('newcomer')}`);
  return parts.join(' ');
}

/** Cuts every line of the text to the width, if there is one. */
export function fitWidth(text: string, width: number | undefined): string {
  if (width === undefined) return text;
  return text
    .split('\n')
    .map((l) => cut(l, width))
    .join('\n');
}

/** Evaluation windows of the story: ten minutes, so the 42 minutes hold several (the spec's are an hour). */
export const DEMO_EVALUATION_WINDOW_MS = 600_000;

export async function runDemo(o: DemoOptions): Promise<number> {
  const out = o.out;
  const { spec: specOfFile, model } = loadSpecAndModel(DEMO_SPEC_PATH);
  if (model === undefined) throw new Error(`${DEMO_SPEC_PATH} has no scoring section: the story scores with its model`);
  const spec: PipelineSpec = specOfFile.evaluation === undefined ? specOfFile : { ...specOfFile, evaluation: { ...specOfFile.evaluation, windowMs: DEMO_EVALUATION_WINDOW_MS } };
  const story = buildStory(o.now ?? Date.now());
  const ledger = new ArrivalLedger();
  const outcomes: Timed[] = [];
  const totals: ReplaySummary & { redelivered: number } = { ...emptySummary(), redelivered: 0 };
  let stateWrites = 0;
  let writeUnits = 0;
  let liveLog: ((t: Timed) => void) | undefined;

  const finals: FinalEvaluationWindow[] = [];
  const labelLedger = new ArrivalLedger();
  const live = o.page === undefined ? undefined : new LivePageSource(o.page);
  const pipeline = await LocalPipeline.start({
    spec,
    ...(live === undefined ? {} : { onEmf: live.onEmf }),
    name: o.name ?? 'sandbox',
    shards: 2,
    batchSize: EVENT_SOURCE_DEFAULTS.batchSize,
    arrivalClock: ledger.clock,
    model,
    onLabelsOutcome: (l) => finals.push(...l.final),
    labelsArrivalClock: labelLedger.clock,
    onOutcome: (outcome, recordsIn) => {
      const t: Timed = { at: Date.now(), outcome, recordsIn };
      live?.outcome(outcome);
      outcomes.push(t);
      addCounters(totals, outcome.counters);
      totals.redelivered += outcome.counters.redelivered;
      stateWrites += outcome.stateWrites;
      writeUnits += outcome.writeUnits;
      liveLog?.(t);
    },
  });
  let server: FeaturesServer | undefined;
  try {
    await live?.start('Feature pipeline: the story', spec, pipeline);
    const dynamo = pipeline.dynamoClient;
    const listed = await kinesisClient().send(new ListShardsCommand({ StreamName: pipeline.names.stream }));
    const shardIds = (listed.Shards ?? []).map((s) => s.ShardId!).sort();
    // Features as the endpoint serves them: the key items read through the one serving function, as of a time.
    const client = new FeatureClient({ spec, tableName: pipeline.names.stateTable, dynamo });
    const served = (users: readonly string[], at: number): Promise<KeyFeatures[]> => client.getFeatures(users, { at, consistentRead: true });
    const watermark = async (shard: string): Promise<number | undefined> => {
      const res = await dynamo.send(new GetItemCommand({ TableName: pipeline.names.stateTable, Key: { pk: { S: `shard#${shard}` }, sk: { S: 'watermark' } }, ConsistentRead: true }));
      const max = numberOf(res.Item?.maxEventTime);
      return max === null ? undefined : max - spec.watermark.allowedLatenessMs;
    };
    /** Wall time at which the user's current features first show a write made after `since`. */
    const visibleAt = async (user: string, since: number): Promise<number | undefined> => {
      const deadline = Date.now() + VISIBLE_TIMEOUT_MS;
      while (Date.now() < deadline) {
        const [cur] = await served([user], Date.now());
        if ((cur?.writtenAt ?? -Infinity) >= since) return Date.now();
        await sleep(5);
      }
      return undefined;
    };

    // The same clock as the rows below: each row is labelled with the end of its wave.
    const span = `${clock(story.start).slice(0, 5)}–${clock(story.waves[story.waves.length - 1]!.until).slice(0, 5)} UTC`;
    out(`\nThe story, ${span}, played in seconds:\n`);
    out(`  ${story.fraudster} makes 22 payments in 38 minutes among 19 customers paying 1–3 times each;\n`);
    out(`  ${story.commuter}'s phone is on the subway: its payments arrive up to 12 minutes late;\n`);
    out(`  user_13's phone clock is a day ahead; user_05's terminal sends the amount "12,50" as text;\n`);
    out(`  a producer retry sends one of the fraudster's payments twice;\n`);
    out(`  a new electronics shop opens at ${clock(story.newcomersFrom).slice(0, 5)}: 12 new customers pay it $260–$380 each.\n`);
    out(`The consumer scores every payment it applies with model ${model.version} (bin/specs/${specOfFile.scoring!.model}), on the features\n`);
    out(`  the key's item serves right after the batch is written.\n`);
    const m = pipeline.esm.settings;
    out(`Stream of ${shardIds.length} shards (one watermark each); allowed lateness ${spec.watermark.allowedLatenessMs / 1000} s; event source mapping as\n`);
    out(`  deployed: batches of up to ${m.batchSize} records gathered for up to ${m.maximumBatchingWindowMs / 1000} s, function timeout ${m.functionTimeoutMs / 1000} s; features:\n`);
    out(`  ${spec.features.map((f) => f.name).join(', ')}\n\n`);

    const [f5, f1h, s1h] = SHOWN;
    const cols: Column[] = [
      { header: 'until', align: 'l' },
      { header: 'n5m', width: 4 },
      { header: 'n1h', width: 4 },
      { header: '$1h', width: 9 },
      { header: 'n5m', width: 4 },
      { header: 'n1h', width: 4 },
      { header: '$1h', width: 7 },
      ...shardIds.map((s) => ({ header: `shard ${s.slice(-2)}`, width: 8 })),
      { header: 'lag', width: 4 },
      { header: 'flagged', align: 'l' as const },
      { header: 'what arrived', align: 'l' as const },
    ];
    const groups = [
      { label: '', span: 1 },
      { label: story.fraudster, span: 3 },
      { label: story.commuter, span: 3 },
      { label: 'watermark', span: shardIds.length },
      { label: 'ms', span: 1 },
      { label: '', span: 2 },
    ];
    out(`Online features after each wave of 2 story minutes, as the features endpoint serves them as of that time:\n`);
    out(`  until = end of the wave (story clock, UTC); n5m = ${f5}, n1h = ${f1h},\n`);
    out(`  $1h = ${s1h}; lag = put → last batch processed; flagged = users with a positive prediction in the wave;\n`);
    out(`  F×n / U×n = payments of ${story.fraudster} / ${story.commuter}, on time or late; retry = producer retry;\n`);
    out(`  +n = other customers' payments. Values are of the window holding the read time: a quiet user's fall back to 0.\n`);
    const table = streamedTable(cols, { groups });
    out(table.header);
    const visibleMs: number[] = [];
    const eventToWrittenMs: number[] = [];
    const lagMs: number[] = [];
    const invisible: string[] = [];
    const fmt = (k: KeyFeatures | undefined, feature: string, money = false): string => {
      const v = k?.features[feature]?.value;
      return v === undefined || v === null ? '—' : money ? v.toFixed(2) : String(v);
    };
    const seenUsers = new Set<string>();
    const putAtOf = new Map<string, number>();
    const predictionLatencyMs: number[] = [];
    const predictions: Prediction[] = [];
    for (const wave of story.waves) {
      const before = outcomes.length;
      const putAt = Date.now();
      for (const r of wave.records) {
        const id = eventIdOf(r.data);
        if (id !== undefined && !putAtOf.has(id)) putAtOf.set(id, putAt);
      }
      if (wave.records.length > 0) {
        await ledger.put(
          wave.records.map((r) => r.arrivalTime),
          () => pipeline.put(wave.records.map((r) => ({ partitionKey: r.user, data: r.data }))),
        );
        const users = new Map<string, number>();
        for (const r of wave.records.filter(applies)) users.set(r.user, (users.get(r.user) ?? 0) + 1);
        await Promise.all([
          pipeline.drain(),
          ...[...users].map(async ([user, n]) => {
            const seen = await visibleAt(user, putAt);
            if (seen === undefined) invisible.push(`${user} at ${clock(wave.until)}`);
            else for (let i = 0; i < n; i++) visibleMs.push(seen - putAt);
          }),
        ]);
      }
      const done = outcomes.slice(before);
      for (const d of done) {
        for (const p of d.outcome.scoring?.predictions ?? []) {
          predictions.push(p as Prediction);
          const put = putAtOf.get(p.eventId);
          if (put !== undefined) predictionLatencyMs.push(d.at - put);
        }
      }
      const flagged = [...new Set(done.flatMap((d) => (d.outcome.scoring?.predictions ?? []).filter((p) => p.positive).map((p) => p.key)))];
      const lag = done.length > 0 ? Math.max(...done.map((d) => d.at)) - putAt : undefined;
      if (lag !== undefined) lagMs.push(lag);
      for (const d of done) {
        const v = storyFreshness(d, wave, putAt);
        if (v !== undefined) eventToWrittenMs.push(v);
      }
      // The model reads right after the wave's last record: that is the story time the values are judged at.
      const readAt = wave.records.length > 0 ? Math.max(...wave.records.map((r) => r.arrivalTime)) : wave.until - 1;
      for (const r of wave.records.filter(applies)) seenUsers.add(r.user);
      const users = [story.fraudster, story.commuter, ...[...seenUsers].filter((u) => u !== story.fraudster && u !== story.commuter).sort()];
      const [rows, wms] = await Promise.all([served(users, readAt), Promise.all(shardIds.map(watermark))]);
      const [fr, cu] = rows;
      out(table.row([
        clock(wave.until).slice(0, 5),
        fmt(fr, f5),
        fmt(fr, f1h),
        fmt(fr, s1h, true),
        fmt(cu, f5),
        fmt(cu, f1h),
        fmt(cu, s1h, true),
        ...wms.map((w) => (w === undefined ? '—' : clock(w))),
        lag === undefined ? '' : String(lag),
        flagged.length === 0 ? '' : flagged.map((u) => (u === story.fraudster ? 'fraudster' : u)).join(','),
        wave.records.length === 0 ? '(nothing)' : waveNote(wave, story.commuter),
      ]));
    }
    // No more records: read as of later story times, as a model would an hour on. Nothing is rewritten in
    // between; the values come from the same items, served at the later time.
    const lastPayment = Math.max(...story.records.filter((r) => r.user === story.fraudster).map((r) => r.eventTime));
    for (const later of [30, 65]) {
      const at = story.waves[story.waves.length - 1]!.until + later * 60_000;
      const [fr, cu] = await served([story.fraudster, story.commuter], at);
      out(table.row([clock(at).slice(0, 5), fmt(fr, f5), fmt(fr, f1h), fmt(fr, s1h, true), fmt(cu, f5), fmt(cu, f1h), fmt(cu, s1h, true), ...shardIds.map(() => ''), '', '', `(read ${later} min after the story)`]));
    }
    out(`  Last fraudulent payment at ${clock(lastPayment).slice(0, 5)}: an hour later its hourly count reads 0 again.\n`);
    reportScoring(out, story, model, predictions, predictionLatencyMs, seenUsers.size - 1);
    const shardWatermarks = async (): Promise<Array<[string, number | undefined]>> => Promise.all(shardIds.map(async (sh): Promise<[string, number | undefined]> => [sh, await watermark(sh)]));
    await playChargebacks(out, pipeline, story, spec, outcomes, finals, labelLedger, shardWatermarks);

    await pipeline.drain();
    const letters = await pipeline.takeDeadLetters();
    out(`\nDead-letter queue (${pipeline.names.deadLetterQueueUrl.split('/').pop()}): ${letters.length} messages\n`);
    out(fitWidth(renderTable(
      [{ header: 'reason', align: 'l' }, { header: 'feature', align: 'l' }, { header: 'key', align: 'l' }, { header: 'event time' }, { header: 'watermark' }, { header: 'message', align: 'l' }],
      sortLetters(letters).map((m) => [
        m.reason,
        m.feature ?? '',
        m.key ?? '',
        m.eventTime === undefined ? '' : eventClock(m.eventTime, story.start),
        m.watermark === null ? '—' : clock(m.watermark),
        m.reason === 'late' && m.feature !== undefined ? 'its windows are all final' : m.message,
      ]),
    ), o.width));
    for (const m of letters.filter((l) => l.reason !== 'late')) out(`${fitWidth(`  ${m.reason} payload: ${m.payload}`, o.width)}\n`);
    await reportOnFailureQueue(pipeline, out);

    const records = outcomes.reduce((n, t) => n + t.recordsIn, 0);
    const perK = (v: number) => (records === 0 ? '—' : ((1000 * v) / records).toFixed(0));
    out(`\nPipeline figures (${records} records, ${outcomes.length} successful invocations, ${pipeline.esm.counters.invocations} in all)\n`);
    out(renderTable(
      [{ header: 'measure', align: 'l' }, { header: 'p50' }, { header: 'p95' }, { header: 'p99' }, { header: 'n' }],
      [
        ['record put → feature visible (wall clock)', ...pcts(visibleMs), String(visibleMs.length)],
        ['event time → feature written (story clock)¹', ...pcts(eventToWrittenMs), String(eventToWrittenMs.length)],
        ['consumer lag: put → batch processed (wall clock)', ...pcts(lagMs), String(lagMs.length)],
      ],
    ));
    out(`  ¹ newest event of each batch: its simulated arrival delay plus the measured put → write time\n`);
    out(`  counted: applied ${totals.applied}, late ${totals.late} (record, feature) pairs, invalid ${totals.invalid}, future ${totals.future}, duplicates ${totals.duplicates}\n`);
    out(`  DynamoDB writes per 1000 records: ${perK(stateWrites)} requests, ${perK(writeUnits)} write units. Writes are per\n`);
    out(`  key and batch; this story's batches hold ${(records / Math.max(1, outcomes.length)).toFixed(1)} records each, a busy stream's far more.\n`);
    if (invisible.length > 0) out(`  WARNING: no feature write seen within ${VISIBLE_TIMEOUT_MS / 1000} s for ${invisible.join(', ')}\n`);

    if (!o.follow) return invisible.length > 0 ? 1 : 0;
    server = await startFeaturesServer(client, o.featuresPort ?? 0, Date.now, live?.servingRequest);
    printFollowHelp(o, pipeline, spec, server.url);
    liveLog = (t) => out(`${clock(t.at)}  ${batchLine(t)}\n`);
    await untilStopped(o.until);
    return 0;
  } finally {
    await Promise.all([live?.close(), server?.close()]);
    await pipeline.stop();
  }
}

/**
 * The evaluation pattern: chargebacks for the fraudster's payments reach the labels stream days later (story
 * clock), the labels consumer joins them to the predictions, and each evaluation window shows what it measured:
 * its score drift (PSI against the reference window, when the feature consumer's watermark closed it) and, once
 * the label window has passed on the label clock, its precision, recall and label delays.
 */
async function playChargebacks(
  out: (text: string) => void,
  pipeline: LocalPipeline,
  story: Story,
  spec: PipelineSpec,
  outcomes: readonly Timed[],
  finals: readonly FinalEvaluationWindow[],
  ledger: ArrivalLedger,
  shardWatermarks: () => Promise<Array<[string, number | undefined]>>,
): Promise<void> {
  const ev = spec.evaluation!;
  const days = (ms: number): string => `${(ms / 86_400_000).toFixed(1)} d`;
  const first = story.labels[0]!;
  const last = story.labels[story.labels.length - 1]!;
  out(`\nEvaluation: the card holder disputes all ${story.labels.length} payments of ${story.fraudster}. The chargebacks reach the labels stream\n`);
  out(`  ${days(first.labelTime - story.start)}–${days(story.labels[story.labels.length - 2]!.labelTime - story.start)} after the story's start (label time), one after ${days(last.labelTime - story.start)}: beyond the ${days(ev.labelWindowMs)} label window.\n`);
  out(`  Unlabeled predictions count as ${ev.unlabeled === 'negative' ? 'negative (no chargeback: legitimate)' : 'unknown (left out)'}. Evaluation windows: ${ev.windowMs / 60_000} minutes of prediction event time.\n`);
  // Each chargeback reaches the stream a few seconds after its label time, on the story clock.
  await ledger.put(
    story.labels.map((l) => l.labelTime + 2_000),
    () => pipeline.putLabels(story.labels.map((l) => ({ key: l.key, data: l.data }))),
  );
  await pipeline.drainLabels();
  const closed = new Map(outcomes.flatMap((t) => t.outcome.scoring?.closed ?? []).map((c) => [c.windowStart, c]));
  const byStart = new Map(finals.map((f) => [f.windowStart, f]));
  const starts = [...new Set([...closed.keys(), ...byStart.keys()])].sort((a, b) => a - b);
  const pct = (v: number | null | undefined): string => (v === null || v === undefined ? '—' : v.toFixed(2));
  const rows = starts.map((s) => {
    const m = byStart.get(s)?.metrics;
    const c = closed.get(s);
    return [
      `${clock(s).slice(0, 5)}–${clock(s + ev.windowMs).slice(0, 5)}`,
      m === undefined ? String(c?.predictions ?? '—') : String(m.predictions),
      m === undefined ? '—' : `${m.truePositives}/${m.falsePositives}/${m.falseNegatives}/${m.trueNegatives}`,
      pct(m?.precision),
      pct(m?.recall),
      pct(m?.positiveRate ?? c?.positiveRate),
      m?.labelDelayP50Ms === null || m === undefined ? '—' : days(m.labelDelayP50Ms),
      m?.labelDelayP99Ms === null || m === undefined ? '—' : days(m.labelDelayP99Ms),
      c === undefined ? '—' : `${pct(c.psi)}${c.stage === 'provisional' ? ' p' : ''}${c.windowStart === c.reference ? ' (ref)' : ''}`,
    ];
  });
  out(renderTable(
    [{ header: 'window', align: 'l' }, { header: 'predictions' }, { header: 'TP/FP/FN/TN' }, { header: 'precision' }, { header: 'recall' }, { header: 'positive' }, { header: 'delay p50' }, { header: 'delay p99' }, { header: 'PSI' }],
    rows,
  ));
  out(`  precision, recall and delays: once final (label clock past the window's end + the label window); PSI against the\n`);
  out(`  first window closed (ref): provisional (p) once every shard's watermark passed the window's end, final once it passed\n`);
  out(`  it by ${evaluationCloseLagMs(spec) / 60_000} minutes (the longest feature window), when no record of it can be scored anymore; — not yet.\n`);
  const newcomersIn = (s: number): number => story.records.filter((r) => r.role === 'newcomer' && r.eventTime >= s && r.eventTime < s + ev.windowMs).length;
  // The first window without a PSI, and the shard that holds it back.
  const waiting = starts.find((st) => !closed.has(st));
  if (waiting !== undefined) {
    const behind = (await shardWatermarks()).filter(([, w]) => w === undefined || w < waiting + ev.windowMs);
    const n = newcomersIn(waiting);
    const shardsText = behind.map(([sh, w]) => `${sh} at ${w === undefined ? '—' : clock(w)}`).join(', ');
    if (behind.length > 0) out(`  Window ${clock(waiting).slice(0, 5)}${n > 0 ? ` (${n} of the new shop's customers)` : ''} has no PSI yet: watermark of ${shardsText}, before its end.\n`);
  }
  const alarms: string[] = [];
  for (const [s, f] of byStart) {
    if (f.metrics.precision !== null && f.metrics.precision < ev.minPrecision) alarms.push(`EvaluationPrecision (${pct(f.metrics.precision)} < ${ev.minPrecision}, window ${clock(s).slice(0, 5)})`);
    if (f.metrics.recall !== null && f.metrics.recall < ev.minRecall) alarms.push(`EvaluationRecall (${pct(f.metrics.recall)} < ${ev.minRecall}, window ${clock(s).slice(0, 5)})`);
  }
  for (const [s, c] of [...closed].sort(([a], [b]) => a - b)) {
    const n = newcomersIn(s);
    // The alarm reads the final figure; a provisional one says where it is heading.
    const name = c.stage === 'final' ? 'EvaluationPsi' : 'EvaluationPsi once final';
    if (c.psi !== null && c.psi > ev.maxPsi) alarms.push(`${name} (${c.stage === 'final' ? '' : 'provisional '}${pct(c.psi)} > ${ev.maxPsi}, window ${clock(s).slice(0, 5)}${n > 0 ? `, ${n} of the new shop's customers` : ''})`);
  }
  out(`  Alarms that would go off: ${alarms.length === 0 ? 'none' : alarms.join('; ')}.\n`);
  out(`  With 10–25 predictions a window PSI is coarse (the fraudster's burst alone moves it); the new shop's customers,\n`);
  out(`  scored where the reference window had no score at all, move it furthest.\n`);
}

/** The record's event id (the fraud spec's idField), when its payload is JSON with one. */
function eventIdOf(data: string): string | undefined {
  try {
    const id = (JSON.parse(data) as { event_id?: unknown }).event_id;
    return typeof id === 'string' ? id : undefined;
  } catch {
    return undefined;
  }
}

/** What the consumer's scoring made of the story: when the fraudster was first flagged, who else, and how fast. */
function reportScoring(out: (text: string) => void, story: Story, model: Model, predictions: readonly Prediction[], latencyMs: readonly number[], otherUsers: number): void {
  const fraudStart = Math.min(...story.records.filter((r) => r.role === 'fraud').map((r) => r.arrivalTime));
  const byTime = [...predictions].sort((a, b) => (a.arrivalTime ?? 0) - (b.arrivalTime ?? 0));
  const fraud = byTime.filter((p) => p.key === story.fraudster);
  const firstFlag = fraud.findIndex((p) => p.positive);
  const others = [...new Set(predictions.filter((p) => p.positive && p.key !== story.fraudster).map((p) => p.key))];
  out(`\nScoring (model ${model.version}, in the consumer's batch): ${predictions.length} predictions, ${predictions.filter((p) => p.positive).length} positive. `);
  if (firstFlag < 0) out(`It did not flag ${story.fraudster}`);
  else {
    const p = fraud[firstFlag]!;
    out(`It flagged ${story.fraudster} at ${clock(p.arrivalTime ?? p.eventTime).slice(0, 5)}, ${(((p.arrivalTime ?? p.eventTime) - fraudStart) / 60_000).toFixed(1)} min after its first payment (payment ${firstFlag + 1} of ${fraud.length}, score ${p.score.toFixed(2)})`);
  }
  out(`; other users flagged: ${others.length === 0 ? 'none' : others.join(', ')} (of ${otherUsers}).\n`);
  const ages = predictions.map(featureAgeMs).filter((a): a is number => a !== null);
  out(renderTable(
    [{ header: 'measure', align: 'l' }, { header: 'p50' }, { header: 'p95' }, { header: 'p99' }, { header: 'n' }],
    [
      ['record put → prediction written (wall clock)', ...pcts(latencyMs), String(latencyMs.length)],
      ['features\' age when scored (story clock)¹', ...pcts(ages), String(ages.length)],
    ],
  ));
  out(`  ¹ the batch's newest arrival, which the features are served as of, − the newest event time among them\n`);
}

/**
 * Event time → feature written for a batch's newest applied record, on the story clock: the record's simulated
 * arrival plus the measured wall time from its put to the write. The consumer's own figure (write time − event
 * time) mixes the wall clock with story event times, so it is translated: write = event + freshnessMs.
 */
function storyFreshness(d: Timed, wave: StoryWave, putAt: number): number | undefined {
  const f = d.outcome.freshnessMs;
  if (f === undefined) return undefined;
  const newest = d.at - f; // the event time the consumer measured from, within the few ms between write and report
  let best: StoryRecord | undefined;
  for (const r of wave.records.filter(applies)) if (!best || Math.abs(r.eventTime - newest) < Math.abs(best.eventTime - newest)) best = r;
  return best === undefined ? undefined : best.arrivalTime + f - putAt;
}

function pcts(values: readonly number[]): string[] {
  return [50, 95, 99].map((p) => ms(percentile(values, p)));
}

/** Event time as a story clock, or with the day offset when it is not on the story's day. */
function eventClock(t: number, storyStart: number): string {
  const days = Math.round((t - storyStart) / 86_400_000);
  return days === 0 ? clock(t) : `${clock(t)} ${days > 0 ? '+' : ''}${days}d`;
}

function sortLetters(letters: readonly DeadLetterMessage[]): DeadLetterMessage[] {
  const rank: Record<string, number> = { late: 0, future: 1, invalid: 2 };
  return [...letters].sort((a, b) => (rank[a.reason] ?? 9) - (rank[b.reason] ?? 9) || (a.eventTime ?? 0) - (b.eventTime ?? 0) || (a.feature ?? '').localeCompare(b.feature ?? ''));
}

function batchLine(t: Timed): string {
  const c = t.outcome.counters;
  const shards = [...t.outcome.watermarkLagMs.keys()].join(',') || '?';
  const fresh = t.outcome.freshnessMs === undefined ? '' : `, event→written ${ms(t.outcome.freshnessMs)}`;
  return `batch ${shards}: ${t.recordsIn} in, applied ${c.applied}, late ${c.late}, invalid ${c.invalid}, future ${c.future}, duplicates ${c.duplicates}, final windows ${c.finalWindows}, writes ${t.outcome.stateWrites}${fresh}`;
}

/** The batches the event source mapping gave up on, read from the on-failure queue as an operator would. */
async function reportOnFailureQueue(pipeline: LocalPipeline, out: (text: string) => void): Promise<void> {
  const depth = await pipeline.onFailureQueueDepth();
  const abandoned = await pipeline.takeOnFailureMessages();
  const alarm = depth >= 1 ? 'OnFailureQueueNotEmpty would go off' : 'OnFailureQueueNotEmpty stays OK';
  out(`\nOn-failure queue (${pipeline.names.onFailureQueueUrl.split('/').pop()}): ${depth} message(s), ${alarm}\n`);
  for (const m of abandoned) out(`  ${onFailureLine(m)}\n`);
}

export function printFollowHelp(o: Pick<DemoOptions, 'emulators' | 'out'>, pipeline: LocalPipeline, spec: PipelineSpec, featuresUrl: string, specPath?: string): void {
  const env = o.emulators.env();
  const { keyField } = spec.source;
  const stream = pipeline.names.stream;
  o.out(`\nStill running. Send your own records to stream "${stream}":\n`);
  for (const [k, v] of Object.entries(env)) o.out(`  export ${k}=${v}\n`);
  // --cli-binary-format is an AWS CLI v2 option; the exports above give the CLI its region and endpoints.
  o.out(`then, with the AWS CLI v2 (which reads the region and endpoints exported above):\n`);
  o.out(`  aws kinesis put-record --stream-name ${stream} --partition-key ${EXAMPLE_KEY} --cli-binary-format raw-in-base64-out \\\n`);
  o.out(`    --data ${exampleShellData(spec)}\n`);
  o.out(`(AWS CLI v1: the same without --cli-binary-format raw-in-base64-out.) An event for this spec, one JSON object per line of a file:\n`);
  o.out(`  ${JSON.stringify(exampleEvent(spec, Date.now()))}\n`);
  o.out(`puts such a file in order: npm run put -- --config ${specPath ?? relative(process.cwd(), DEMO_SPEC_PATH)} --input EVENTS.jsonl --flat${stream === SANDBOX_STREAM ? '' : ` --stream ${stream}`}\n`);
  o.out(`State and features: table ${pipeline.names.stateTable} (one item per key, pk=entity#<${keyField}>, sk=state); final windows: s3://${pipeline.names.resultsBucket}/finals/; dead letters: ${pipeline.names.deadLetterQueueUrl}; abandoned batches: ${pipeline.names.onFailureQueueUrl}\n`);
  o.out(`Features as of now (or "at"), from the endpoint on ${featuresUrl} (the deployed handler; no IAM on loopback):\n`);
  o.out(`  curl -s -X POST ${featuresUrl} -H 'content-type: application/json' -d '{"entities": {"${keyField}": ["${EXAMPLE_KEY}"]}}'\n`);
  o.out(`or, with the exports above: npm run features -- --key ${EXAMPLE_KEY} --table ${pipeline.names.stateTable}${specPath === undefined ? '' : ` --config ${specPath}`}\n`);
  o.out('One line per batch below; Ctrl-C stops everything.\n');
}
