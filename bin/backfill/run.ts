/**
 * `npm run backfill` locally: the state machine the stack synthesizes (bin/backfill/definition.ts), executed by
 * an Amazon States Language interpreter from npm (aws-local-stepfunctions), its Lambda tasks run by worker
 * threads of this process (step-worker.ts) against S3 (the emulator, or any endpoint AWS_ENDPOINT_URL_S3 names).
 * The run's outputs are then gathered from the partitions' objects into OUT/ in the replay's files.
 *
 * What the interpreter lacks, and how this runner stands in: it has no ItemReader (the definition passes items
 * inline, so none is needed), runs a DISTRIBUTED Map's children as in-process executions (here each task goes to
 * a worker thread), and calls Lambda tasks through local handlers keyed by state name.
 */
import { cpus } from 'node:os';
import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { CreateBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { StateMachine } from 'aws-local-stepfunctions';

type JSONValue = Parameters<NonNullable<NonNullable<NonNullable<Parameters<StateMachine['run']>[1]>['overrides']>['taskResourceLocalHandlers']>[string]>[0];
import { type BackfillSource, type BackfillSummary, type RunRef, getChunkedLines, partitionOutputKey, partitionSummary } from '../../lambda/adapters/backfill-steps';
import { s3Client } from '../../lambda/adapters/s3-client';
import { BACKFILL_STATES } from '../../lambda/contract/resources';
import type { ArchiveRange } from '../../lambda/adapters/archive-objects';
import type { ReplaySummary } from '../../lambda/core/output';
import type { BackfillEvent } from '../../lambda/handlers/backfill';
import { prepareOutputDir, removeOutputs } from '../cli/files';
import { polyfillPromiseWithResolvers } from '../cli/node-support';
import { LineWriter } from '../cli/writer';
import { startModuleWorker } from '../replay/start-worker';
import { synthesizeBackfillDefinition } from './definition';
import type { StepMessage, StepReply, StepWorkerInit } from './step-worker';

export const BACKFILL_FILES = ['windows.jsonl', 'rejected.jsonl', 'corrections.jsonl', 'firings.jsonl', 'summary.json', 'backfill.json'] as const;

/** Where local runs put their objects (created in the emulator when missing). */
export const LOCAL_BACKFILL_BUCKET = 'feature-pipeline-backfill';

export interface BackfillRunOptions {
  /** The spec as JSON text (the workers parse it as the Lambda function does). */
  readonly specText: string;
  readonly source: BackfillSource;
  readonly range?: ArchiveRange;
  readonly partitions: number;
  readonly outDir: string;
  /** Worker threads running tasks at once. @default the number of CPUs */
  readonly workers?: number;
  /** A records file is cut into segments of about this many bytes. */
  readonly segmentBytes?: number;
  /** @default LOCAL_BACKFILL_BUCKET */
  readonly bucket?: string;
  /** @default a new one per run */
  readonly runId?: string;
  /**
   * Fails a task attempt (for tests of the retries): 'before' its step runs, or 'after' it ran and wrote its
   * objects (a worker that crashed before answering).
   */
  readonly inject?: (state: string, event: BackfillEvent, attempt: number) => 'before' | 'after' | undefined;
  readonly onProgress?: (p: BackfillProgress) => void;
}

export interface BackfillProgress {
  readonly stage: 'plan' | 'segments' | 'combine' | 'partitions' | 'finish';
  readonly done: number;
  readonly total: number;
  readonly elapsedMs: number;
}

export interface BackfillReport {
  readonly summary: ReplaySummary;
  readonly partitions: number;
  readonly segments: number;
  readonly keysOnSeveralShards: number;
  /** Task attempts that failed and were retried by the state machine. */
  readonly retried: number;
  readonly wallMs: number;
  /** Wall time of each stage: planning the segments, and running the partitions. */
  readonly segmentsMs: number;
  readonly partitionsMs: number;
  /** Where the run's objects are. */
  readonly run: RunRef;
}

class InjectedFailure extends Error {
  public constructor(message: string) {
    super(message);
    this.name = 'InjectedFailure';
  }
}

/** Worker threads taking one task each at a time. */
class StepPool {
  private readonly idle: Worker[] = [];
  private readonly waiting: Array<(w: Worker) => void> = [];
  private readonly all: Worker[] = [];
  private next = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  public constructor(size: number, init: StepWorkerInit) {
    for (let i = 0; i < size; i++) {
      const w = startModuleWorker(join(__dirname, 'step-worker'), init, { maxYoungGenerationSizeMb: 32, maxOldGenerationSizeMb: 4096 });
      w.on('message', (m: StepReply) => {
        const p = this.pending.get(m.id);
        this.pending.delete(m.id);
        if (m.ok) p?.resolve(m.result);
        else {
          const e = new Error(m.message);
          e.name = m.name;
          p?.reject(e);
        }
      });
      w.on('error', (e) => {
        for (const p of this.pending.values()) p.reject(e);
        this.pending.clear();
      });
      this.all.push(w);
      this.idle.push(w);
    }
  }

  public async run(event: BackfillEvent): Promise<unknown> {
    const w = this.idle.pop() ?? (await new Promise<Worker>((r) => this.waiting.push(r)));
    try {
      const id = this.next++;
      return await new Promise((resolve, reject) => {
        this.pending.set(id, { resolve, reject });
        w.postMessage({ id, event } satisfies StepMessage);
      });
    } finally {
      const waiter = this.waiting.shift();
      if (waiter) waiter(w);
      else this.idle.push(w);
    }
  }

  public async close(): Promise<void> {
    await Promise.all(this.all.map((w) => w.terminate()));
  }
}

export async function runBackfill(opts: BackfillRunOptions): Promise<BackfillReport> {
  prepareOutputDir('--out', opts.outDir);
  const started = Date.now();
  const bucket = opts.bucket ?? LOCAL_BACKFILL_BUCKET;
  const s3 = s3Client({ maxAttempts: 8 });
  await ensureBucket(s3, bucket);
  const pool = new StepPool(Math.max(1, Math.min(opts.workers ?? cpus().length, opts.partitions + 1)), { bucket, outPrefix: 'backfill/local/', workPrefix: 'backfill-work/local/' });
  const attempts = new Map<string, number>();
  let retried = 0;
  const counts = { segments: 0, segmentsDone: 0, partitionsDone: 0 };
  const marks = { planned: 0, segmented: 0, combined: 0, partitioned: 0 };
  const progress = (stage: BackfillProgress['stage'], done: number, total: number): void => opts.onProgress?.({ stage, done, total, elapsedMs: Date.now() - started });
  const task =
    (state: string, after?: (result: unknown) => void) =>
    async (input: JSONValue): Promise<JSONValue> => {
      const event = input as unknown as BackfillEvent;
      const id = `${state} ${JSON.stringify(input)}`;
      const attempt = (attempts.get(id) ?? 0) + 1;
      attempts.set(id, attempt);
      const fault = opts.inject?.(state, event, attempt);
      if (fault !== undefined) retried += 1;
      if (fault === 'before') throw new InjectedFailure(`${state}: injected failure before the step (attempt ${attempt})`);
      const result = await pool.run(event);
      if (fault === 'after') throw new InjectedFailure(`${state}: injected failure after the step wrote its objects (attempt ${attempt})`);
      after?.(result);
      return result as JSONValue;
    };
  const S = BACKFILL_STATES;
  polyfillPromiseWithResolvers();
  const sm = localMachine();
  const runId = opts.runId ?? `run-${new Date(started).toISOString().replace(/[:.]/g, '-')}-${process.pid}`;
  const request = {
    runId,
    source: opts.source,
    partitions: opts.partitions,
    spec: opts.specText,
    ...(opts.range?.from === undefined ? {} : { from: opts.range.from }),
    ...(opts.range?.to === undefined ? {} : { to: opts.range.to }),
    ...(opts.segmentBytes === undefined ? {} : { segmentBytes: opts.segmentBytes }),
  };
  try {
    progress('plan', 0, 1);
    const execution = sm.run(request, {
      overrides: {
        taskResourceLocalHandlers: {
          [S.plan]: task(S.plan, (r) => {
            marks.planned = Date.now();
            counts.segments = (r as { segments: number[] }).segments.length;
            progress('segments', 0, counts.segments);
          }),
          [S.segment]: task(S.segment, () => {
            marks.segmented = Date.now();
            progress('segments', ++counts.segmentsDone, counts.segments);
          }),
          [S.combine]: task(S.combine, () => {
            marks.combined = Date.now();
            progress('partitions', 0, opts.partitions);
          }),
          [S.partition]: task(S.partition, () => {
            marks.partitioned = Date.now();
            progress('partitions', ++counts.partitionsDone, opts.partitions);
          }),
          [S.finish]: task(S.finish),
        },
        // Retries wait no time locally; on AWS they back off (lib/backfill.ts).
        retryIntervalOverrides: Object.fromEntries(Object.values(S).map((s) => [s, 0])),
      },
    });
    const result = (await execution.result) as unknown as BackfillSummary & { partitions: number; outputs: string[] };
    progress('finish', 1, 1);
    const run: RunRef = { bucket, prefix: `backfill/local/${runId}/`, work: `backfill-work/local/${runId}/` };
    await gather(s3, run, opts.partitions, result.outputs, opts.outDir);
    const { keysOnSeveralShards, partitions: _p, outputs: _o, ...summary } = result;
    const report: BackfillReport = { summary, partitions: opts.partitions, segments: counts.segments, keysOnSeveralShards, retried, wallMs: Date.now() - started, segmentsMs: marks.segmented - marks.planned, partitionsMs: marks.partitioned - marks.combined, run };
    await writeJson(join(opts.outDir, 'summary.json'), summary);
    await writeJson(join(opts.outDir, 'backfill.json'), { ...report, summary: undefined });
    return report;
  } catch (e) {
    const removed = removeOutputs(opts.outDir, BACKFILL_FILES);
    const err = e instanceof Error ? e : new Error(String(e));
    if (removed.length > 0) err.message += `; no output kept (removed the partial ${removed.join(', ')} from ${opts.outDir})`;
    throw err;
  } finally {
    await pool.close();
  }
}

let machine: StateMachine | undefined;
/**
 * The synthesized definition, checked by the interpreter's validator (a few seconds) once per process; every
 * execution is independent, so one machine runs them all.
 */
function localMachine(): StateMachine {
  return (machine ??= new StateMachine(synthesizeBackfillDefinition() as unknown as ConstructorParameters<typeof StateMachine>[0], { validationOptions: { checkArn: false, checkPaths: false } }));
}

async function ensureBucket(s3: S3Client, bucket: string): Promise<void> {
  try {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  } catch (e) {
    const name = (e as Error).name;
    if (name !== 'BucketAlreadyOwnedByYou' && name !== 'BucketAlreadyExists') throw e;
  }
}

/** The partitions' outputs as the replay's files: rejected records in input order, the others partition by partition. */
async function gather(s3: S3Client, run: RunRef, partitions: number, outputs: readonly string[], outDir: string): Promise<void> {
  const chunks = await Promise.all(Array.from({ length: partitions }, (_, p) => partitionSummary(s3, run, p).then((s) => s.chunks)));
  const lines = (p: number, file: string): Promise<string[]> => getChunkedLines(s3, run, partitionOutputKey(run, p, file), chunks[p]![file] ?? 0);
  for (const file of outputs) {
    const out = new LineWriter(join(outDir, `${file}.jsonl`));
    if (file === 'rejected') {
      const all: Array<{ line: number; text: string }> = [];
      for (let p = 0; p < partitions; p++) for (const text of await lines(p, file)) all.push({ line: (JSON.parse(text) as { line: number }).line, text });
      all.sort((a, b) => a.line - b.line);
      for (const r of all) out.writeLine(r.text);
    } else {
      for (let p = 0; p < partitions; p++) {
        for (const text of await lines(p, file)) out.writeLine(text);
        await out.drain();
      }
    }
    await out.close();
  }
}

async function writeJson(path: string, value: unknown): Promise<void> {
  const w = new LineWriter(path);
  w.writeText(`${JSON.stringify(value, null, 2)}\n`);
  await w.close();
}
