/**
 * `npm run redrive` against the emulators: records a spec with a typo rejected as invalid are sent into a pipeline
 * with the fixed spec and land in its windows, byte for byte (a non-UTF-8 payload, and one too large for its
 * message read back whole from S3, are rejected again with the same bytes); a dry run changes nothing; a second apply puts nothing; a record late for two features is
 * put once; dead letters not selected stay in the queue.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Emulators } from '../../../bin/local/emulators';
import { LocalPipeline } from '../../../bin/local/pipeline';
import { type RedriveReport, redrive } from '../../../bin/redrive/redrive';
import { sqsClient } from '../../../lambda/adapters/aws-clients';
import { kinesisClient } from '../../../lambda/adapters/kinesis-client';
import { s3Client } from '../../../lambda/adapters/s3-client';
import { parseSpecJson } from '../../../lambda/core/spec';
import { runCli } from '../../support/run-cli';
import { workerEmulators } from '../../support/worker-emulators';

const dir = mkdtempSync(join(tmpdir(), 'redrive-'));
const T0 = 1_796_032_800_000; // the start of an hour
const FIXED = {
  source: { keyField: 'account', timeField: 'occurred', idField: 'event_id' },
  watermark: { allowedLatenessMs: 0 },
  features: [
    { name: 'spend_1h', window: { type: 'tumbling', sizeMs: 3_600_000 }, aggregate: 'sum', field: 'price' },
    { name: 'orders_1h', window: { type: 'tumbling', sizeMs: 3_600_000 }, aggregate: 'count' },
  ],
};
// The typo: every event lacks the time field this spec reads, so every record is invalid.
const TYPO = { ...FIXED, source: { ...FIXED.source, timeField: 'ocurred' } };
const fixedSpec = parseSpecJson(JSON.stringify(FIXED));
const specPath = join(dir, 'fixed.json');
writeFileSync(specPath, JSON.stringify(FIXED));

const event = (account: string, minute: number, price: number, extra: Record<string, unknown> = {}) => JSON.stringify({ account, occurred: T0 + minute * 60_000, price, event_id: `${account}-${minute}`, ...extra });
/** Too large for a dead-letter message (kept whole in S3), within a Kinesis record. */
const huge = event('a3', 9, 100, { pad: 'x'.repeat(1_010_000) });
/** Not UTF-8 (a lone 0xff byte): its dead letter holds it in base64, and it is invalid under either spec. */
const binary = Buffer.concat([Buffer.from('{"account":"a4","occurred":'), Buffer.from([0xff]), Buffer.from('}')]);
const sha = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');

let emulators: Emulators;
let sqs: SQSClient;
const saved = { ...process.env };

beforeAll(async () => {
  emulators = await workerEmulators();
  Object.assign(process.env, emulators.env());
  sqs = sqsClient();
}, 120_000);

afterAll(async () => {
  sqs?.destroy();
  process.env = saved;
  await emulators?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function depth(queueUrl: string): Promise<number> {
  const res = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }));
  return Number(res.Attributes!.ApproximateNumberOfMessages) + Number(res.Attributes!.ApproximateNumberOfMessagesNotVisible);
}

const cli = (args: readonly string[], env: NodeJS.ProcessEnv = { ...saved, ...emulators.env() }) => runCli('bin/redrive.ts', ['--config', specPath, ...args], env);

describe('npm run redrive', () => {
  it('sends the invalid records of a spec with a typo into the fixed pipeline: a dry run first, then once', async () => {
    const typo = await LocalPipeline.start({ spec: parseSpecJson(JSON.stringify(TYPO)), name: 'redrive-typo', shards: 2, maximumBatchingWindowMs: 0 });
    const fixed = await LocalPipeline.start({ spec: fixedSpec, name: 'redrive-fixed', shards: 2, maximumBatchingWindowMs: 0 });
    try {
      const events = [event('a1', 1, 1), event('a2', 2, 10), event('a1', 3, 2), event('a2', 4, 5), event('a1', 5, 3.5), huge];
      await typo.put([...events.map((data) => ({ partitionKey: JSON.parse(data).account as string, data })), { partitionKey: 'a4', data: binary }]);
      await typo.drain();
      const queue = typo.names.deadLetterQueueUrl;
      expect(await depth(queue)).toBe(7);
      const args = ['--queue', queue, '--stream', fixed.names.stream];

      const dry = await cli(args);
      expect(dry.code, dry.stderr).toBe(0);
      const plan = JSON.parse(dry.stdout) as RedriveReport;
      expect(plan).toMatchObject({ apply: false, put: 0, deleted: 0, requeued: 0, queueBefore: { visible: 7, inFlight: 0 } });
      // Only the oldest dead letters of each shard: the emulator gives one a shard (SQS up to ten) until they go.
      expect(plan.read).toBeGreaterThanOrEqual(1);
      expect(plan.read).toBeLessThanOrEqual(2);
      expect(plan.selected).toEqual({ records: plan.read, deadLetters: plan.read, byReason: { invalid: plan.read }, byFeature: {} });
      expect(plan.samples[0]).toMatchObject({ reason: 'invalid', partitionKey: expect.stringMatching(/^a\d$/) });
      expect(plan.notes.join(' ')).toMatch(/oldest dead letters of each shard/);
      expect(dry.stderr).toMatch(/^warning: late records are judged late again under latePolicy "dlq"/m);
      expect(await depth(queue)).toBe(7);

      const applied = await cli([...args, '--apply']);
      expect(applied.code, applied.stderr).toBe(0);
      const report = JSON.parse(applied.stdout) as RedriveReport;
      expect(report).toMatchObject({ apply: true, put: 7, deleted: 7, requeued: 0, unrestorable: [], limited: false });
      expect(Object.values(report.shards).reduce((a, b) => a + b, 0)).toBe(7);
      expect(await depth(queue)).toBe(0);

      const again = await cli([...args, '--apply']);
      expect(again.code, again.stderr).toBe(0);
      expect(JSON.parse(again.stdout)).toMatchObject({ read: 0, put: 0, deleted: 0 });

      const [noStream, noQueue] = await Promise.all([
        cli(['--queue', queue, '--stream', 'no-such-stream', '--apply']),
        cli(['--queue', queue.replace(/[^/]+$/, 'no-such-queue.fifo'), '--stream', fixed.names.stream]),
      ]);
      expect(noStream.code).toBe(1);
      expect(noStream.stderr).toMatch(/^error: stream "no-such-stream" does not exist at http:\/\/.*: give the stream records go to with --stream \(the stack's StreamName output/);
      expect(noQueue.code).toBe(1);
      expect(noQueue.stderr).toMatch(/^error: queue http:.*no-such-queue\.fifo does not exist at http:.*: give the dead-letter queue's URL \(the stack's DeadLetterQueueUrl output\)/);

      await fixed.drain();
      await fixed.flush();
      const windows = (await fixed.finalWindows()).map((w) => [w.feature, w.key, w.value]).sort((a, b) => String(a).localeCompare(String(b)));
      expect(windows).toEqual([
        ['orders_1h', 'a1', 3],
        ['orders_1h', 'a2', 2],
        ['spend_1h', 'a1', 6.5],
        ['spend_1h', 'a2', 15],
      ]);
      // The non-UTF-8 record and the one too large for a message (over the consumer's payload limit under any
      // spec) went back byte for byte: invalid again, the same bytes, the large one whole in S3 again.
      const back = (await fixed.takeDeadLetters()).sort((a, b) => a.payloadBytes - b.payloadBytes);
      expect(back.map((d) => [d.reason, d.payloadEncoding, d.payloadBytes, d.payloadSha256, d.truncated])).toEqual([
        ['invalid', 'base64', binary.byteLength, sha(binary), false],
        ['invalid', 'utf8', Buffer.byteLength(huge), sha(huge), true],
      ]);
      expect(Buffer.from(await fixed.deadLetterPayload(back[1]!.payloadObject!)).toString('utf8')).toBe(huge);
    } finally {
      await Promise.all([typo.stop(), fixed.stop()]);
    }
  }, 180_000);

  it('puts a record late for two features once, and sends what is not selected to the back of its shard', async () => {
    const late = await LocalPipeline.start({ spec: fixedSpec, name: 'redrive-late', maximumBatchingWindowMs: 0 });
    const target = await LocalPipeline.start({ spec: fixedSpec, name: 'redrive-target', maximumBatchingWindowMs: 0 });
    const clients = { sqs, kinesis: kinesisClient(), s3: s3Client() };
    try {
      // The second hour's record closes the first hour; then two records of the first hour are late for both
      // features, and an invalid one follows.
      await late.put([
        { partitionKey: 'b1', data: event('b1', 1, 1) },
        { partitionKey: 'b1', data: event('b1', 70, 1) },
        { partitionKey: 'b2', data: event('b2', 2, 7) },
        { partitionKey: 'b3', data: event('b3', 9, 100) },
        { partitionKey: 'b4', data: '{"account":"b4"}' },
      ]);
      await late.drain();
      const queue = late.names.deadLetterQueueUrl;
      expect(await depth(queue)).toBe(5);
      const base = { spec: fixedSpec, queueUrl: queue, stream: target.names.stream, ...clients, visibilityTimeoutSeconds: 30 };

      // --limit 1: one record and both its dead letters; the rest stay, visible again.
      expect(await redrive({ ...base, apply: true, reasons: ['late'], limit: 1 })).toMatchObject({ put: 1, deleted: 2, limited: true });
      expect(await depth(queue)).toBe(3);
      const onlyLate = await redrive({ ...base, apply: true, reasons: ['late'] });
      expect(onlyLate).toMatchObject({ put: 1, deleted: 2, requeued: 1, unrestorable: [], limited: false });
      expect(onlyLate.selected).toEqual({ records: 1, deadLetters: 2, byReason: { late: 2 }, byFeature: { spend_1h: 1, orders_1h: 1 } });
      // The invalid dead letter was sent to the back of its shard, not lost; a second run finds nothing late.
      expect(await depth(queue)).toBe(1);
      expect(await redrive({ ...base, apply: true, reasons: ['late'] })).toMatchObject({ read: 1, put: 0, requeued: 1 });

      await target.drain();
      await target.flush();
      const windows = (await target.finalWindows()).map((w) => [w.feature, w.key, w.value, w.count]).sort((a, b) => String(a).localeCompare(String(b)));
      expect(windows).toEqual([
        ['orders_1h', 'b2', 1, 1],
        ['orders_1h', 'b3', 1, 1],
        ['spend_1h', 'b2', 7, 1],
        ['spend_1h', 'b3', 100, 1],
      ]);
      const left = await late.takeDeadLetters();
      expect(left.map((d) => [d.reason, d.key ?? null])).toEqual([['invalid', 'b4']]);
    } finally {
      clients.kinesis.destroy();
      clients.s3.destroy();
      await Promise.all([late.stop(), target.stop()]);
    }
  }, 180_000);

  it('says what is missing without a sandbox, and refuses bad arguments', async () => {
    const bare = Object.fromEntries(Object.entries(saved).filter(([k]) => !k.startsWith('AWS_')));
    const [noSandbox, badReason, badLimit, featureNotLate] = await Promise.all([
      cli([], bare),
      cli(['--reason', 'late,typo'], bare),
      cli(['--limit', '0'], bare),
      cli(['--reason', 'invalid', '--feature', 'spend_1h'], bare),
    ]);
    expect(noSandbox.code).toBe(64);
    expect(noSandbox.stderr).toMatch(/^error: no SQS endpoint and no --queue: for the sandbox, start it with npm start -- --follow/);
    expect(noSandbox.stderr).not.toMatch(/credentials/i);
    expect(badReason.code).toBe(64);
    expect(badReason.stderr).toMatch(/^error: --reason must be one or more of invalid, future, late, comma-separated \(got "late,typo"\)/);
    expect(badLimit.code).toBe(64);
    expect(badLimit.stderr).toMatch(/^error: --limit must be a positive integer/);
    expect(featureNotLate.stderr).toMatch(/^error: --feature selects late dead letters/);
  }, 60_000);
});
