/**
 * SigV4 for a Lambda function URL with IAM authorization (service `lambda`): the request's method, path, query,
 * headers and body hashed and signed with the caller's credentials. The signer (@smithy/signature-v4) and the
 * default credential chain (@aws-sdk/credential-provider-node) load on the first signed request, so a client of an
 * unsigned local endpoint loads neither.
 */
import { createHash, createHmac } from 'node:crypto';

/** AWS credentials: an access key, its secret, and a session token for temporary ones. */
export interface Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
  readonly expiration?: Date;
}

/** Credentials, or a function returning them (called before each request; cache inside it). */
export type CredentialsSource = Credentials | (() => Promise<Credentials>);

type Data = string | ArrayBuffer | ArrayBufferView;

const bytes = (d: Data): Buffer => (typeof d === 'string' ? Buffer.from(d, 'utf8') : ArrayBuffer.isView(d) ? Buffer.from(d.buffer, d.byteOffset, d.byteLength) : Buffer.from(d));

/** SHA-256, or HMAC-SHA-256 with a secret, from node:crypto: the hash the signer is given. */
export class Sha256 {
  private readonly parts: Buffer[] = [];

  public constructor(private readonly secret?: Data) {}

  public update(data: Data): void {
    this.parts.push(bytes(data));
  }

  public digest(): Promise<Uint8Array> {
    const h = this.secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(this.secret));
    for (const p of this.parts) h.update(p);
    return Promise.resolve(new Uint8Array(h.digest()));
  }

  public reset(): void {
    this.parts.length = 0;
  }
}

export interface SignedRequest {
  readonly url: URL;
  readonly body: string;
  readonly headers: Record<string, string>;
}

/** Signs a POST of `body` to `url` and returns the headers to send (host, x-amz-date, authorization, …). */
export type Signer = (req: SignedRequest) => Promise<Record<string, string>>;

/** The part of @smithy/signature-v4's SignatureV4 used here. */
interface SignatureV4Like {
  sign(request: object, options?: { signingDate?: Date }): Promise<{ headers: Record<string, string> }>;
}

interface SignatureV4Module {
  SignatureV4: new (init: { service: string; region: string; credentials: () => Promise<Credentials>; sha256: typeof Sha256 }) => SignatureV4Like;
}

interface CredentialProviderModule {
  defaultProvider: () => () => Promise<Credentials>;
}

/**
 * A package loaded by name at run time, typed by the interfaces above rather than by its declarations: the
 * signer's and the credential chain's declarations are hundreds of files, which would make compiling this package
 * several times slower.
 */
const load = (name: string): Promise<unknown> => import(name);

/** A signer for `region` with `credentials` (default: the AWS SDK's default chain). */
export function sigV4Signer(region: string, credentials?: CredentialsSource, signingDate?: () => Date): Signer {
  let signer: Promise<SignatureV4Like> | undefined;
  const create = async (): Promise<SignatureV4Like> => {
    const { SignatureV4 } = (await load('@smithy/signature-v4')) as SignatureV4Module;
    const creds = credentials ?? ((await load('@aws-sdk/credential-provider-node')) as CredentialProviderModule).defaultProvider();
    return new SignatureV4({ service: 'lambda', region, credentials: typeof creds === 'function' ? creds : () => Promise.resolve(creds), sha256: Sha256 });
  };
  return async ({ url, body, headers }) => {
    signer ??= create().catch((e: unknown) => {
      signer = undefined;
      throw e;
    });
    const s = await signer;
    const query: Record<string, string | string[]> = {};
    for (const [k, v] of url.searchParams) {
      const prev = query[k];
      query[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
    }
    const signed = await s.sign(
      {
        method: 'POST',
        protocol: url.protocol,
        hostname: url.hostname,
        ...(url.port === '' ? {} : { port: Number(url.port) }),
        path: url.pathname,
        query,
        headers: { ...headers, host: url.host },
        body,
      },
      signingDate === undefined ? {} : { signingDate: signingDate() },
    );
    return signed.headers;
  };
}
