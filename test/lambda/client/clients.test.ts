/**
 * The installable clients of the features endpoint, called as a model server calls them, against the local
 * endpoint (bin/local/features-server.ts) over key items in dynalite: the Node package built (`npm run
 * build:client`), packed, installed into a separate project and loaded there with a plain `require` and `import`;
 * the Python module run by python3. Signed requests go through a recording proxy, and each signature is checked
 * by recomputing it.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { type IncomingMessage, type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildClient } from '../../../bin/build-client';
import type { Emulators } from '../../../bin/local/emulators';
import { type FeaturesServer, startFeaturesServer } from '../../../bin/local/features-server';
import { dynamoClient } from '../../../lambda/adapters/aws-clients';
import { FeatureClient } from '../../../lambda/adapters/feature-client';
import type { FeatureResponse as ClientFeatureResponse, KeyFeatures } from '../../../lambda/client';
import { Sha256 } from '../../../lambda/client';
import type { FeatureResponse } from '../../../lambda/core/feature-request';
import { parseSpec } from '../../../lambda/core/spec';
import { Feed, specDoc } from '../../support/engine-harness';
import { REPO_ROOT } from '../../support/run-cli';
import { SERVED_FEATURES, createStateTable, writeServedItems } from '../../support/served-items';
import { workerEmulators } from '../../support/worker-emulators';

// The client's copy of the answer's shape accepts what the endpoint sends (a compile-time check).
const _sameShape = (r: FeatureResponse): ClientFeatureResponse => r;
void _sameShape;

const T0 = Date.UTC(2026, 10, 30, 10);
const spec = parseSpec(specDoc({ source: { keyField: 'user_id', timeField: 'ts', idField: 'id' }, features: SERVED_FEATURES, watermark: { allowedLatenessMs: 30_000, maxFutureSkewMs: 300_000 } }));
const TABLE = 'endpoint-clients-state';
const CREDENTIALS = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', sessionToken: 'session-token-example' };
const REGION = 'eu-west-1';

/** What every client is asked, and what it must answer (alice's state written at 10:06, asked as of 10:03). */
const AT = '2026-11-30T10:03:00Z';
const EXPECTED: KeyFeatures[] = [
  {
    key: 'alice',
    found: true,
    watermark: expect.any(String) as unknown as string,
    writtenAt: '2026-11-30T10:06:00.000Z',
    features: {
      txn_count_5m: { name: 'txn_count_5m', value: 3, status: 'WRITTEN_AFTER', count: 3, windowStart: '2026-11-30T10:00:00.000Z', windowEnd: '2026-11-30T10:05:00.000Z', eventTimestamp: '2026-11-30T10:02:00.000Z' },
      session_spend: { name: 'session_spend', value: 60, status: 'WRITTEN_AFTER', count: 3, windowStart: '2026-11-30T10:00:00.000Z', windowEnd: '2026-11-30T10:32:00.000Z', eventTimestamp: '2026-11-30T10:02:00.000Z' },
    },
  },
  {
    key: '42',
    found: true,
    watermark: expect.any(String) as unknown as string,
    writtenAt: '2026-11-30T10:06:00.000Z',
    features: {
      txn_count_5m: { name: 'txn_count_5m', value: 0, status: 'EMPTY', count: 0, windowStart: '2026-11-30T10:00:00.000Z', windowEnd: '2026-11-30T10:05:00.000Z', eventTimestamp: null },
      session_spend: { name: 'session_spend', value: 0, status: 'EMPTY', count: 0, windowStart: null, windowEnd: null, eventTimestamp: null },
    },
  },
  {
    key: 'nobody',
    found: false,
    watermark: null,
    writtenAt: null,
    features: {
      txn_count_5m: { name: 'txn_count_5m', value: 0, status: 'EMPTY', count: 0, windowStart: '2026-11-30T10:00:00.000Z', windowEnd: '2026-11-30T10:05:00.000Z', eventTimestamp: null },
      session_spend: { name: 'session_spend', value: 0, status: 'EMPTY', count: 0, windowStart: null, windowEnd: null, eventTimestamp: null },
    },
  },
];
const UNKNOWN_FEATURE = {
  status: 400,
  field: 'features[0]',
  message: `the features endpoint {url} answered 400: features[0] is not a feature of this pipeline: "txn_count_1d" (features: ${SERVED_FEATURES.map((f) => f.name).join(', ')})`,
};

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** A child process, awaited without blocking this process (which serves the endpoint it calls). */
function run(command: string, args: readonly string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Run> {
  const child = spawn(command, args, { cwd: opts.cwd ?? REPO_ROOT, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

interface Recorded {
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/**
 * Recomputes a recorded request's SigV4 signature over the headers it says it signed. A payload hash header (the
 * signer takes it as the body's hash) must be the hash of the body.
 */
async function recomputedAuthorization(r: Recorded, port: number, body = r.body): Promise<string> {
  const payloadHash = r.headers['x-amz-content-sha256'];
  if (payloadHash !== undefined && payloadHash !== createHash('sha256').update(body).digest('hex')) return 'x-amz-content-sha256 is not the hash of the body';
  const signedNames = /SignedHeaders=([^,]+)/.exec(r.headers.authorization ?? '')?.[1]?.split(';') ?? [];
  const signer = new SignatureV4({ service: 'lambda', region: REGION, credentials: CREDENTIALS, sha256: Sha256, applyChecksum: false });
  const amzDate = r.headers['x-amz-date'] ?? '';
  const signingDate = new Date(amzDate.replace(/^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/, '$1-$2-$3T$4:$5:$6Z'));
  const signed = await signer.sign(
    { method: r.method, protocol: 'http:', hostname: '127.0.0.1', port, path: r.path, query: {}, headers: Object.fromEntries(signedNames.map((n) => [n, r.headers[n] ?? ''])), body },
    { signingDate },
  );
  return signed.headers.authorization!;
}

let emulators: Emulators;
let dynamo: DynamoDBClient;
let server: FeaturesServer;
let proxy: Server;
let proxyUrl: string;
let proxyPort: number;
const recorded: Recorded[] = [];
const project = mkdtempSync(join(tmpdir(), 'model-server-'));

beforeAll(async () => {
  emulators = await workerEmulators();
  Object.assign(process.env, emulators.env());
  dynamo = dynamoClient();
  await createStateTable(dynamo, TABLE);
  const feed = new Feed();
  const records = [0, 1, 2].map((i) => feed.record({ user_id: 'alice', ts: T0 + i * 60_000, amount: 10 * (i + 1), id: `a${i}` }, { arrivalTime: T0 + i * 60_000 + 50 }));
  records.push(feed.record({ user_id: 42, ts: T0 + 5 * 60_000, amount: 7, id: 'b0' }, { arrivalTime: T0 + 5 * 60_000 + 50 }));
  await writeServedItems(dynamo, TABLE, spec, records, T0 + 6 * 60_000);
  server = await startFeaturesServer(new FeatureClient({ spec, tableName: TABLE, dynamo }));
  // Records each request, then forwards it to the local endpoint (which, like loopback, checks no signature).
  proxy = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      recorded.push({ method: req.method ?? '', path: req.url ?? '', headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)])), body });
      const answer = await fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      res.writeHead(answer.status, { 'content-type': 'application/json' }).end(await answer.text());
    })();
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', () => resolve()));
  proxyPort = (proxy.address() as AddressInfo).port;
  proxyUrl = `http://127.0.0.1:${proxyPort}/`;
}, 60_000);

afterAll(async () => {
  await server?.close();
  await new Promise<void>((resolve) => (proxy ? proxy.close(() => resolve()) : resolve()));
  dynamo?.destroy();
  rmSync(project, { recursive: true, force: true });
  await emulators?.stop();
});

/** The same calls from a plain CommonJS file and an ES module: features of three keys, then an unknown feature. */
const CALLS = `
const [url, signed] = process.argv.slice(2);
const client = new FeatureEndpointClient({ url, keyField: 'user_id', ...(signed === 'signed' ? { region: '${REGION}', credentials: ${JSON.stringify(CREDENTIALS)} } : {}) });
const main = async () => {
  const rows = await client.getFeatures(['alice', 42, 'nobody'], { at: '${AT}', features: ['txn_count_5m', 'session_spend'] });
  let error;
  try {
    await client.getFeatures(['alice'], { features: ['txn_count_1d'] });
  } catch (e) {
    error = { isFeatureEndpointError: e instanceof FeatureEndpointError, status: e.status, field: e.field, message: e.message };
  }
  process.stdout.write(JSON.stringify({ rows, error }));
};
`;

describe('the Node client package', () => {
  let tarball: string;

  beforeAll(async () => {
    const out = buildClient();
    const pack = await run('npm', ['pack', out, '--pack-destination', project, '--json', '--silent']);
    expect(pack.code, pack.stderr).toBe(0);
    tarball = join(project, (JSON.parse(pack.stdout) as Array<{ filename: string }>)[0]!.filename);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'model-server', version: '1.0.0', private: true }));
    // Offline: the package's two dependencies come from this repository's installed copies, standing in for the
    // registry; npm refuses them if their versions do not satisfy the package's ranges.
    const deps = ['@smithy/signature-v4', '@aws-sdk/credential-provider-node'].map((d) => join(REPO_ROOT, 'node_modules', d));
    const install = await run('npm', ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', tarball, ...deps], { cwd: project });
    expect(install.code, install.stderr).toBe(0);
    writeFileSync(join(project, 'call.js'), `const { FeatureEndpointClient, FeatureEndpointError } = require('event-time-feature-client');\n${CALLS}\nmain();\n`);
    writeFileSync(join(project, 'call.mjs'), `import { FeatureEndpointClient, FeatureEndpointError } from 'event-time-feature-client';\n${CALLS}\nawait main();\n`);
  }, 60_000);

  it('is compiled JavaScript with declarations, depending on the signer and credential chain only', async () => {
    const manifest = JSON.parse(readFileSync(join(project, 'node_modules', 'event-time-feature-client', 'package.json'), 'utf8')) as { main: string; types: string; dependencies: Record<string, string>; private?: boolean };
    expect(manifest).toMatchObject({ main: 'index.js', types: 'index.d.ts' });
    expect(manifest.private).toBeUndefined();
    expect(Object.keys(manifest.dependencies).sort()).toEqual(['@aws-sdk/credential-provider-node', '@smithy/signature-v4']);
    const list = await run('tar', ['-tzf', tarball]);
    expect(list.stdout.trim().split('\n').sort()).toEqual(
      ['feature-endpoint-client.d.ts', 'feature-endpoint-client.js', 'index.d.ts', 'index.js', 'package.json', 'sign.d.ts', 'sign.js'].map((f) => `package/${f}`),
    );
  });

  it('type-checks in a TypeScript model server', async () => {
    writeFileSync(
      join(project, 'check.ts'),
      [
        "import { FeatureEndpointClient, FeatureEndpointError, type FeatureStatus, type KeyFeatures } from 'event-time-feature-client';",
        "const client = new FeatureEndpointClient({ url: 'http://127.0.0.1:1/', keyField: 'user_id', region: 'eu-west-1', credentials: async () => ({ accessKeyId: 'a', secretAccessKey: 's' }) });",
        "export const rows: Promise<KeyFeatures[]> = client.getFeatures(['a', 1], { at: new Date(), features: ['f'] });",
        "export const status: FeatureStatus = 'WRITTEN_AFTER';",
        "export const status404: number | null = new FeatureEndpointError('m', 404).status;",
        '// @ts-expect-error not a status',
        "export const bad: FeatureStatus = 'MISSING';",
      ].join('\n'),
    );
    // The package's declarations resolve through its "exports" and type this file; checking the libraries themselves
    // (skipLibCheck false) would take seconds more and test tsc, not the package.
    const tsconfig = { compilerOptions: { strict: true, noEmit: true, target: 'ES2022', module: 'node16', moduleResolution: 'node16', skipLibCheck: true, types: [] }, files: ['check.ts'] };
    writeFileSync(join(project, 'tsconfig.json'), JSON.stringify(tsconfig));
    const tsc = await run(process.execPath, [join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', project]);
    expect(tsc.code, tsc.stdout + tsc.stderr).toBe(0);
  });

  it.each(['call.js', 'call.mjs'])('serves the features of keys to %s, unsigned on the local endpoint', async (file) => {
    const r = await run(process.execPath, [file, server.url], { cwd: project });
    expect(r.code, r.stderr).toBe(0);
    const { rows, error } = JSON.parse(r.stdout) as { rows: KeyFeatures[]; error: unknown };
    expect(rows).toEqual(EXPECTED);
    expect(error).toEqual({ ...UNKNOWN_FEATURE, message: UNKNOWN_FEATURE.message.replace('{url}', server.url), isFeatureEndpointError: true });
  });

  it('signs with SigV4 for a function URL: every signature recomputes, the body and headers as sent', async () => {
    const from = recorded.length;
    const r = await run(process.execPath, ['call.js', proxyUrl, 'signed'], { cwd: project });
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { rows: KeyFeatures[] }).rows).toEqual(EXPECTED);
    const sent = recorded.slice(from);
    expect(sent).toHaveLength(2);
    for (const req of sent) {
      expect(req.headers.authorization).toMatch(new RegExp(`^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/\\d{8}/${REGION}/lambda/aws4_request, SignedHeaders=[^,]*host[^,]*, Signature=[0-9a-f]{64}$`));
      expect(req.headers['x-amz-security-token']).toBe(CREDENTIALS.sessionToken);
      expect(await recomputedAuthorization(req, proxyPort)).toBe(req.headers.authorization);
    }
    // The check is not vacuous: another body gives another signature.
    expect(await recomputedAuthorization(sent[0]!, proxyPort, `${sent[0]!.body} `)).not.toBe(sent[0]!.headers.authorization);
  });

  it('says when the endpoint cannot be reached, with no status', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', () => resolve()));
    const url = `http://127.0.0.1:${(closed.address() as AddressInfo).port}/`;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const script = "const { FeatureEndpointClient } = require('event-time-feature-client'); new FeatureEndpointClient({ url: process.argv[1], keyField: 'user_id' }).getFeatures(['a']).catch((e) => { console.log(JSON.stringify({ name: e.name, status: e.status, message: e.message })); });";
    const r = await run(process.execPath, ['-e', script, url], { cwd: project });
    expect(JSON.parse(r.stdout)).toEqual({ name: 'FeatureEndpointError', status: null, message: `could not reach the features endpoint ${url}: connect ECONNREFUSED ${url.slice(7, -1)}` });
  });
});

/** Why the Python client cannot run here (no python3, or no botocore), or undefined. */
function pythonMissing(): string | undefined {
  const r = spawnSync('python3', ['-c', 'import botocore'], { encoding: 'utf8' });
  if (r.error) return `python3 is not installed (${r.error.message})`;
  if (r.status !== 0) return `python3 has no botocore (apt-get install python3-botocore): ${r.stderr.trim().split('\n').pop()}`;
  return undefined;
}

const missing = pythonMissing();

/** Runs Python code with the client module importable, returning what it prints as JSON. */
async function python(code: string, ...args: string[]): Promise<unknown> {
  const r = await run('python3', ['-c', code, ...args], { env: { PYTHONPATH: join(REPO_ROOT, 'lambda', 'client'), PYTHONDONTWRITEBYTECODE: '1' } });
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

const PY_CALLS = `
import dataclasses, json, sys
from feature_client import FeatureEndpointClient, FeatureEndpointError
url, signed = sys.argv[1], sys.argv[2] == "signed"
if signed:
    from botocore.credentials import Credentials
    c = ${JSON.stringify(CREDENTIALS)}
    client = FeatureEndpointClient(url, "user_id", region="${REGION}", credentials=Credentials(c["accessKeyId"], c["secretAccessKey"], c["sessionToken"]))
else:
    client = FeatureEndpointClient(url, "user_id")
rows = client.get_features(["alice", 42, "nobody"], at="${AT}", features=["txn_count_5m", "session_spend"])
try:
    client.get_features(["alice"], features=["txn_count_1d"])
    error = None
except FeatureEndpointError as e:
    error = {"status": e.status, "field": e.field, "message": str(e)}
print(json.dumps({"rows": [dataclasses.asdict(r) for r in rows], "error": error}))
`;

/** The Python rows with the Node client's field names, to compare with the same expectation. */
function camel(rows: Array<Record<string, unknown>>): KeyFeatures[] {
  const rename = (o: Record<string, unknown>): Record<string, unknown> => Object.fromEntries(Object.entries(o).map(([k, v]) => [k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()), v]));
  return rows.map((r) => ({ ...rename(r), features: Object.fromEntries(Object.entries(r.features as Record<string, Record<string, unknown>>).map(([n, f]) => [n, rename(f)])) })) as unknown as KeyFeatures[];
}

describe.skipIf(missing !== undefined)(`the Python client${missing === undefined ? '' : ` (skipped: ${missing})`}`, () => {
  it('serves the features of keys unsigned on the local endpoint, as the Node client does', async () => {
    const { rows, error } = (await python(PY_CALLS, server.url, 'unsigned')) as { rows: Array<Record<string, unknown>>; error: unknown };
    expect(camel(rows)).toEqual(EXPECTED);
    expect(error).toEqual({ ...UNKNOWN_FEATURE, message: UNKNOWN_FEATURE.message.replace('{url}', server.url) });
  });

  it('signs with botocore for a function URL: every signature recomputes with the Node signer', async () => {
    const from = recorded.length;
    const { rows } = (await python(PY_CALLS, proxyUrl, 'signed')) as { rows: Array<Record<string, unknown>> };
    expect(camel(rows)).toEqual(EXPECTED);
    const sent = recorded.slice(from);
    expect(sent).toHaveLength(2);
    for (const req of sent) {
      expect(req.headers.authorization).toMatch(new RegExp(`^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/\\d{8}/${REGION}/lambda/aws4_request, SignedHeaders=[^,]*host[^,]*, Signature=[0-9a-f]{64}$`));
      expect(req.headers['x-amz-security-token']).toBe(CREDENTIALS.sessionToken);
      expect(await recomputedAuthorization(req, proxyPort)).toBe(req.headers.authorization);
    }
  });

  it('splits more than 100 keys into requests as of one time, and names bad input and an unreachable endpoint', async () => {
    const from = recorded.length;
    const out = await python(
      `
import json, sys
from feature_client import FeatureEndpointClient, FeatureEndpointError
client = FeatureEndpointClient(sys.argv[1], "user_id")
rows = client.get_features(["k%d" % i for i in range(150)], features=["txn_count_5m"])
errors = []
for call in (lambda: FeatureEndpointClient("ftp://x", "user_id"), lambda: client.get_features(["a"], at=True),
             lambda: FeatureEndpointClient("http://127.0.0.1:1/", "user_id", timeout=2).get_features(["a"])):
    try:
        call()
    except (ValueError, TypeError, FeatureEndpointError) as e:
        errors.append([type(e).__name__, getattr(e, "status", None), str(e)])
print(json.dumps({"keys": [r.key for r in rows], "empty": client.get_features([]), "errors": errors}))
`,
      proxyUrl,
    );
    const bodies = recorded.slice(from).map((r) => JSON.parse(r.body) as { entities: { user_id: string[] }; at?: number });
    expect(bodies.map((b) => b.entities.user_id.length)).toEqual([100, 50]);
    expect(typeof bodies[0]!.at).toBe('number');
    expect(bodies[1]!.at).toBe(bodies[0]!.at);
    expect(out).toEqual({
      keys: Array.from({ length: 150 }, (_, i) => `k${i}`),
      empty: [],
      errors: [
        ['ValueError', null, "url must be an http(s) URL, got 'ftp://x'"],
        ['TypeError', null, 'at must be epoch milliseconds, an ISO-8601 string or a datetime, got True'],
        ['FeatureEndpointError', null, expect.stringMatching(/^could not reach the features endpoint http:\/\/127\.0\.0\.1:1\/: \[Errno 111\] Connection refused$/)],
      ],
    });
  });
});
