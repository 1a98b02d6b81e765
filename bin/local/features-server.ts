/**
 * The features endpoint on localhost: the deployed endpoint's handler (lambda/handlers/features.ts) behind a plain
 * HTTP server, each request turned into the function URL event Lambda would pass (payload format 2.0). No IAM on
 * loopback: on AWS the function URL requires SigV4 (see docs/deploy.md).
 */
import { type IncomingMessage, type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type { FeatureClient } from '../../lambda/adapters/feature-client';
import { featuresHandler } from '../../lambda/handlers/features';

/** Request bodies beyond this are refused (413) before they are read whole. */
const MAX_BODY_BYTES = 1_048_576;

export interface FeaturesServer {
  readonly url: string;
  close(): Promise<void>;
}

async function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const chunk of req) {
    n += (chunk as Buffer).length;
    if (n > MAX_BODY_BYTES) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** Serves `client`'s features on 127.0.0.1 (`port` 0: any free port); `onRequest` counts each request. */
export async function startFeaturesServer(client: FeatureClient, port = 0, now: () => number = Date.now, onRequest?: () => void): Promise<FeaturesServer> {
  const handle = featuresHandler(() => client, now);
  const server: Server = createServer((req, res) => {
    onRequest?.();
    void (async () => {
      const body = await readBody(req);
      if (body === undefined) {
        res.writeHead(413, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'payload too large', message: `body over ${MAX_BODY_BYTES} bytes` }));
        return;
      }
      const url = new URL(req.url ?? '/', 'http://localhost');
      const event = {
        version: '2.0',
        routeKey: '$default',
        rawPath: url.pathname,
        rawQueryString: url.search.slice(1),
        headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : (v ?? '')])),
        requestContext: { http: { method: req.method ?? 'GET', path: url.pathname, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: req.headers['user-agent'] ?? '' } },
        body: body.toString('base64'),
        isBase64Encoded: true,
      } as unknown as APIGatewayProxyEventV2;
      try {
        const r = await handle(event);
        res.writeHead(r.statusCode ?? 200, (r.headers ?? {}) as Record<string, string>).end(r.body ?? '');
      } catch (e) {
        // As Lambda answers a function error through a function URL: 502, no stack to the caller.
        res.writeHead(502, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'internal error', message: (e as Error).name }));
      }
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${bound}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
