/**
 * Local AWS for tests and the sandbox: kinesalite (Kinesis; kinesis-mock on request), dynalite (DynamoDB), fauxqs
 * (SQS) and, on request, fauxqs' S3, each in its own child Node process, listening on a free port on 127.0.0.1 only.
 *
 * Kinesalite is the default Kinesis emulator because kinesis-mock's PutRecords costs time proportional to what the
 * shard already holds, for every record put: it groups the request's records by (shard, the shard's whole record
 * vector), so each record hashes every record stored before it (PutRecordsRequest.scala). A file of 20,000 records
 * took minutes to put; kinesalite's put time does not grow with the stream (bin/bench/kinesis-put.ts).
 *
 * Children are killed by stop(), on process exit / SIGINT / SIGTERM, and also exit by themselves when their
 * stdin pipe closes, which covers a parent that dies without running any handler (e.g. SIGKILL).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { ListStreamsCommand } from '@aws-sdk/client-kinesis';
import { ListBucketsCommand } from '@aws-sdk/client-s3';
import { ListQueuesCommand } from '@aws-sdk/client-sqs';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { dynamoClient, sqsClient } from '../../lambda/adapters/aws-clients';
import { s3Client } from '../../lambda/adapters/s3-client';
import { kinesisClient } from './kinesis-client';

export type EmulatorService = 'kinesis' | 'dynamodb' | 'sqs' | 's3';

/** Which program emulates Kinesis (see the top of this file for why kinesalite is the default). */
export type KinesisEmulator = 'kinesalite' | 'kinesis-mock';

export interface StartEmulatorsOptions {
  /** Services to start (default: all four: the consumer writes its results to S3). */
  readonly services?: readonly EmulatorService[];
  /** @default 'kinesalite' */
  readonly kinesisEmulator?: KinesisEmulator;
  /** Hide the emulators' own output (default true); it is still kept for start-up error messages. */
  readonly quiet?: boolean;
  /** How long each emulator may take to answer (default 30 s; kinesis-mock needs ~1-3 s). */
  readonly startTimeoutMs?: number;
}

export interface Emulators {
  /** Base URLs such as http://127.0.0.1:PORT, for the services that were started. */
  readonly endpoints: Partial<Record<EmulatorService, string>>;
  /** Time from spawn to first successful answer, per service. */
  readonly startupMs: Partial<Record<EmulatorService, number>>;
  /** Child process ids, per service. */
  readonly pids: Partial<Record<EmulatorService, number>>;
  /** Environment for SDK clients (see lambda/adapters/aws-clients.ts) and child processes. */
  env(): Record<string, string>;
  /** Resident memory (now and peak) and CPU time of each running emulator, from /proc (empty where there is none). */
  usage(): Partial<Record<EmulatorService, ProcessUsage>>;
  stop(): Promise<void>;
}

export interface ProcessUsage {
  readonly rssMb: number;
  readonly peakRssMb: number;
  /** User + system CPU time since the process started. */
  readonly cpuMs: number;
}

/** Linux reports CPU times in clock ticks of 1/100 s (USER_HZ) on every architecture Node runs on. */
const MS_PER_TICK = 10;

/**
 * VmRSS, VmHWM (peak) and CPU time of a process, or undefined where /proc does not tell (not Linux, process gone).
 * CPU seconds say where a local run's time goes even on a machine whose other load stretches wall-clock times.
 */
export function processUsage(pid: number): ProcessUsage | undefined {
  let status: string;
  let stat: string;
  try {
    status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]);
  // Fields after the command name (which may hold spaces), from field 3 on: utime and stime are fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  const usage = { rssMb: kb('VmRSS') / 1024, peakRssMb: kb('VmHWM') / 1024, cpuMs: ticks * MS_PER_TICK };
  return Object.values(usage).every(Number.isFinite) ? usage : undefined;
}

export class EmulatorStartError extends Error {
  override readonly name = 'EmulatorStartError';
}

const HOST = '127.0.0.1';
const REGION = 'us-east-1';
const DEFAULT_SERVICES: readonly EmulatorService[] = ['kinesis', 'dynamodb', 'sqs', 's3'];
/** Shards one emulator holds across all its streams (test files create many streams on one emulator). */
const SHARD_LIMIT = 1000;
/** Keeps each child alive only while its parent holds the other end of its stdin pipe. */
const WATCHDOG = "process.stdin.on('end', () => process.exit(0)); process.stdin.on('error', () => process.exit(0)); process.stdin.resume();";

/** Finds an installed package folder without resolving its entry point (fauxqs exports ESM only). */
function packageDir(name: string): string {
  for (const dir of require.resolve.paths(name) ?? []) {
    if (fs.existsSync(path.join(dir, name, 'package.json'))) return path.join(dir, name);
  }
  throw new EmulatorStartError(`package "${name}" is not installed (npm install)`);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, HOST, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

interface ChildSpec {
  args: string[];
  cwd?: string;
  env: Record<string, string>;
}

/** fauxqs' own app (SQS and S3 on one port), built here: its CLI always logs every request and binds 0.0.0.0. */
function fauxqsSpec(port: number): ChildSpec {
  // Its default queue URLs use the host sqs.<region>.localhost, which does not resolve everywhere; with no host set
  // they follow the request Host header instead (http://127.0.0.1:PORT/...). S3 is served path-style on the same port.
  const dist = path.join(packageDir('fauxqs'), 'dist');
  const url = (file: string) => JSON.stringify(pathToFileURL(path.join(dist, file)).href);
  const code = `${WATCHDOG}
    const { buildApp } = await import(${url('app.js')});
    const { SqsStore } = await import(${url('sqs/sqsStore.js')});
    const { SnsStore } = await import(${url('sns/snsStore.js')});
    const { S3Store } = await import(${url('s3/s3Store.js')});
    const sqsStore = new SqsStore(); sqsStore.host = undefined;
    const stores = { sqsStore, snsStore: new SnsStore(), s3Store: new S3Store() };
    await buildApp({ logger: false, stores }).listen({ port: ${port}, host: '${HOST}' });`;
  return { args: ['--input-type=module', '-e', code], env: {} };
}

async function childSpec(service: EmulatorService, port: number, kinesisEmulator: KinesisEmulator): Promise<ChildSpec> {
  switch (service) {
    case 'kinesis': {
      if (kinesisEmulator === 'kinesalite') {
        const main = require.resolve('kinesalite', { paths: [packageDir('kinesalite')] });
        // In memory (no path); streams are ACTIVE at once, as the tests and the sandbox expect.
        const opts = `{ createStreamMs: 0, deleteStreamMs: 0, updateStreamMs: 0, shardLimit: ${SHARD_LIMIT} }`;
        return { args: ['-e', `${WATCHDOG} require(${JSON.stringify(main)})(${opts}).listen(${port}, '${HOST}');`], env: {} };
      }
      const dir = packageDir('kinesis-local');
      // kinesis-mock always binds 0.0.0.0 and has no host setting: pin its listeners to loopback.
      const pinLoopback = `const net = require('net'); const listen = net.Server.prototype.listen;
        net.Server.prototype.listen = function (...a) {
          if (a[0] !== null && typeof a[0] === 'object') a[0] = { ...a[0], host: '${HOST}' };
          else if (typeof a[1] === 'string') a[1] = '${HOST}'; else a.splice(1, 0, '${HOST}');
          return listen.apply(this, a);
        };`;
      return {
        args: ['-e', `${WATCHDOG} ${pinLoopback} require(${JSON.stringify(path.join(dir, 'main.js'))});`],
        cwd: dir, // it loads its TLS certificate (server.json) from the working directory
        env: {
          KINESIS_MOCK_PLAIN_PORT: String(port),
          KINESIS_MOCK_TLS_PORT: String(await freePort()), // unused, but it always opens one
          // Defaults are 500 ms per stream/shard operation, which slows every test down.
          CREATE_STREAM_DURATION: '0ms',
          DELETE_STREAM_DURATION: '0ms',
          MERGE_SHARDS_DURATION: '0ms',
          SPLIT_SHARD_DURATION: '0ms',
          UPDATE_SHARD_COUNT_DURATION: '0ms',
          UPDATE_STREAM_MODE_DURATION: '0ms',
          REGISTER_STREAM_CONSUMER_DURATION: '0ms',
          DEREGISTER_STREAM_CONSUMER_DURATION: '0ms',
          START_STREAM_ENCRYPTION_DURATION: '0ms',
          STOP_STREAM_ENCRYPTION_DURATION: '0ms',
          SHARD_LIMIT: String(SHARD_LIMIT), // default 50 per account
          ON_DEMAND_STREAM_COUNT_LIMIT: '100',
          AWS_REGION: REGION,
          LOG_LEVEL: 'WARN', // INFO logs every request
          SHOULD_PERSIST_DATA: 'false',
        },
      };
    }
    case 'dynamodb': {
      const main = require.resolve('dynalite', { paths: [packageDir('dynalite')] });
      const opts = '{ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 }';
      return { args: ['-e', `${WATCHDOG} require(${JSON.stringify(main)})(${opts}).listen(${port}, '${HOST}');`], env: {} };
    }
    case 'sqs':
    case 's3':
      // One process per service, even though fauxqs serves both: a test of one never sees the other's state.
      return fauxqsSpec(port);
  }
}

/** One cheap call through the real SDK client, failing fast while the port is not yet open. */
function probe(service: EmulatorService, endpoint: string): () => Promise<unknown> {
  const common = {
    endpoint,
    region: REGION,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
    requestHandler: new NodeHttpHandler({ connectionTimeout: 500, requestTimeout: 2000 }),
  };
  switch (service) {
    case 'kinesis': {
      const client = kinesisClient(common);
      return () => client.send(new ListStreamsCommand({}));
    }
    case 'dynamodb': {
      const client = dynamoClient(common);
      return () => client.send(new ListTablesCommand({}));
    }
    case 'sqs': {
      const client = sqsClient(common);
      return () => client.send(new ListQueuesCommand({}));
    }
    case 's3': {
      const client = s3Client(common);
      return () => client.send(new ListBucketsCommand({}));
    }
  }
}

// Every live child, so exit and signal handlers can kill them all.
const live = new Set<ChildProcess>();
let handlersInstalled = false;

function installExitHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  const killAll = () => {
    for (const child of live) child.kill('SIGKILL');
  };
  process.on('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    const onSignal = () => {
      killAll();
      // Listening to a signal disables Node's default exit; restore it unless someone else handles it.
      if (process.listenerCount(signal) === 1) {
        process.removeListener(signal, onSignal);
        process.kill(process.pid, signal);
      }
    };
    process.on(signal, onSignal);
  }
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

async function kill(child: ChildProcess): Promise<void> {
  const done = exited(child);
  // kinesis-mock takes ~2 s to shut down gracefully; nothing is persisted, so a short grace is enough.
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 300);
  await done;
  clearTimeout(timer);
  live.delete(child);
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Started {
  child: ChildProcess;
  endpoint: string;
  ms: number;
}

interface StartSettings {
  quiet: boolean;
  timeoutMs: number;
  kinesisEmulator: KinesisEmulator;
}

async function startOne(service: EmulatorService, o: StartSettings): Promise<Started> {
  const { quiet, timeoutMs } = o;
  const port = await freePort();
  const spec = await childSpec(service, port, o.kinesisEmulator);
  const t0 = performance.now();
  const child = spawn(process.execPath, spec.args, {
    cwd: spec.cwd,
    env: { ...process.env, ...spec.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  live.add(child);
  installExitHandlers();

  let tail = '';
  const collect = (chunk: Buffer) => {
    tail = (tail + chunk.toString()).slice(-4000);
    if (!quiet) process.stderr.write(`[${service}] ${chunk.toString()}`);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);

  const endpoint = `http://${HOST}:${port}`;
  const call = probe(service, endpoint);
  let lastError: unknown;
  const deadline = Date.now() + timeoutMs;
  while (child.exitCode === null && child.signalCode === null && Date.now() < deadline) {
    try {
      await call();
      // A port can be taken between freePort() and the child's bind (parallel test workers): then the answer came
      // from someone else's server and our child is about to exit. Make sure it is still ours that runs.
      await delay(100);
      if (child.exitCode !== null || child.signalCode !== null) break;
      return { child, endpoint, ms: Math.round(performance.now() - t0) };
    } catch (error) {
      lastError = error;
      await delay(50);
    }
  }
  const why = child.exitCode !== null || child.signalCode !== null
    ? `exited (${child.exitCode ?? child.signalCode})`
    : `did not answer within ${timeoutMs} ms (last error: ${String(lastError)})`;
  await kill(child);
  throw new EmulatorStartError(`${service} emulator on ${endpoint} ${why}\n--- output tail ---\n${tail.trim()}`);
}

/** Starts one emulator, choosing fresh ports again when the chosen ones were taken before the child bound them. */
async function startWithRetry(service: EmulatorService, o: StartSettings): Promise<Started> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOne(service, o);
    } catch (error) {
      const portTaken = error instanceof EmulatorStartError && /EADDRINUSE|address already in use/i.test(error.message);
      if (!portTaken || attempt >= 5) throw error;
    }
  }
}

/** Starts the requested emulators in parallel and resolves once each one answers a real API call. */
export async function startEmulators(opts: StartEmulatorsOptions = {}): Promise<Emulators> {
  const services = opts.services ?? DEFAULT_SERVICES;
  const settings: StartSettings = {
    quiet: opts.quiet ?? true,
    timeoutMs: opts.startTimeoutMs ?? 30_000,
    kinesisEmulator: opts.kinesisEmulator ?? 'kinesalite',
  };
  const results = await Promise.allSettled(services.map((s) => startWithRetry(s, settings)));

  const started = new Map<EmulatorService, Started>();
  results.forEach((r, i) => {
    if (r.status === 'fulfilled') started.set(services[i], r.value);
  });
  const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failure) {
    await Promise.all([...started.values()].map((s) => kill(s.child)));
    throw failure.reason;
  }

  const endpoints: Partial<Record<EmulatorService, string>> = {};
  const startupMs: Partial<Record<EmulatorService, number>> = {};
  const pids: Partial<Record<EmulatorService, number>> = {};
  for (const [service, s] of started) {
    endpoints[service] = s.endpoint;
    startupMs[service] = s.ms;
    if (s.child.pid !== undefined) pids[service] = s.child.pid;
  }
  return {
    endpoints,
    startupMs,
    pids,
    env() {
      const env: Record<string, string> = {
        AWS_REGION: REGION,
        AWS_ACCESS_KEY_ID: 'local', // not 12 digits: kinesis-mock would read that as an account id
        AWS_SECRET_ACCESS_KEY: 'local',
      };
      if (endpoints.kinesis) env.AWS_ENDPOINT_URL_KINESIS = endpoints.kinesis;
      if (endpoints.dynamodb) env.AWS_ENDPOINT_URL_DYNAMODB = endpoints.dynamodb;
      if (endpoints.sqs) env.AWS_ENDPOINT_URL_SQS = endpoints.sqs;
      if (endpoints.s3) env.AWS_ENDPOINT_URL_S3 = endpoints.s3;
      return env;
    },
    usage() {
      const out: Partial<Record<EmulatorService, ProcessUsage>> = {};
      for (const [service, pid] of Object.entries(pids) as Array<[EmulatorService, number]>) {
        const m = processUsage(pid);
        if (m) out[service] = m;
      }
      return out;
    },
    async stop() {
      await Promise.all([...started.values()].map((s) => kill(s.child)));
    },
  };
}
