/**
 * Records onto a Kinesis stream in order, as the CLIs that produce (`npm run put`, `npm run redrive`) put them:
 * PutRecords of at most 500 records and 5 MiB, the entries a request did not take (throttled) sent again after a
 * pause, up to 8 tries.
 */
import { type KinesisClient, PutRecordsCommand, type PutRecordsRequestEntry } from '@aws-sdk/client-kinesis';

const PUT_RECORDS = 500;
const PUT_BYTES = 5 * 1024 * 1024;
const MAX_TRIES = 8;

/** Entries a stream still refused after every try; `put` were taken before. */
export class RecordsNotTakenError extends Error {
  public constructor(
    public readonly stream: string,
    public readonly failed: number,
    public readonly put: number,
    detail: string,
  ) {
    super(`${failed} records not taken by stream ${stream} after ${MAX_TRIES} tries (${detail}); ${put} were put`);
    this.name = 'RecordsNotTakenError';
  }
}

export interface PutRecordsOptions {
  /** Each record taken, with its shard. */
  readonly onTaken?: (shardId: string) => void;
  /** After each request's records are all taken: how many so far. */
  readonly onProgress?: (put: number) => void;
}

/** Puts every entry; returns how many. @throws RecordsNotTakenError */
export async function putRecords(kinesis: KinesisClient, stream: string, entries: Iterable<PutRecordsRequestEntry> | AsyncIterable<PutRecordsRequestEntry>, o: PutRecordsOptions = {}): Promise<number> {
  let put = 0;
  let batch: PutRecordsRequestEntry[] = [];
  let bytes = 0;
  const send = async (): Promise<void> => {
    let pending = batch;
    batch = [];
    bytes = 0;
    for (let tries = 1; pending.length > 0; tries++) {
      const res = await kinesis.send(new PutRecordsCommand({ StreamName: stream, Records: pending }));
      const failed: PutRecordsRequestEntry[] = [];
      (res.Records ?? []).forEach((r, i) => {
        if (r.ErrorCode !== undefined) failed.push(pending[i]!);
        else o.onTaken?.(r.ShardId!);
      });
      put += pending.length - failed.length;
      if (failed.length > 0 && tries >= MAX_TRIES) {
        const first = (res.Records ?? []).find((r) => r.ErrorCode !== undefined);
        throw new RecordsNotTakenError(stream, failed.length, put, `${first?.ErrorCode ?? ''} ${first?.ErrorMessage ?? ''}`.trim());
      }
      // A throttled record goes again after a pause; the records after it in the request may already be in.
      if (failed.length > 0) await new Promise((r) => setTimeout(r, 100 * 2 ** tries));
      pending = failed;
    }
    o.onProgress?.(put);
  };
  for await (const e of entries) {
    const size = (e.Data?.byteLength ?? 0) + Buffer.byteLength(e.PartitionKey ?? '', 'utf8');
    if (batch.length === PUT_RECORDS || (batch.length > 0 && bytes + size > PUT_BYTES)) await send();
    batch.push(e);
    bytes += size;
  }
  if (batch.length > 0) await send();
  return put;
}
