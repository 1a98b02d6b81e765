/**
 * What the consumer used, as the emulators answered it (docs/semantics.md §9, the `usage` of a file run's summary.json, read by
 * `npm run cost`): requests per service and DynamoDB's consumed capacity, counted by a middleware on the consumer's
 * own SDK clients and on the event source mapping's Kinesis client, so the sandbox's own setup, puts and read-back
 * (other clients) are not counted; the invocations and their time; and the records put on the stream with the
 * units Kinesis bills them in (the producer pays those whatever the consumer does).
 */
import type { HandlerExecutionContext, InitializeHandler, InitializeHandlerArguments, MetadataBearer } from '@smithy/types';
import type { ClientHook, SdkClient } from '../../lambda/adapters/aws-clients';
import { ARCHIVE_OBJECT_PREFIX } from '../../lambda/contract/resources';

export interface Usage {
  /** Handler calls, retries included (each is a Lambda request). */
  invocations: number;
  /** Time spent in the handler, summed (Lambda bills duration per invocation, rounded up to the millisecond). */
  consumerMs: number;
  dynamodbWriteRequests: number;
  /** Write capacity units DynamoDB reported (= on-demand write request units). */
  dynamodbWriteUnits: number;
  dynamodbReadRequests: number;
  /** Read capacity units DynamoDB reported (= on-demand read request units). */
  dynamodbReadUnits: number;
  /**
   * DynamoDB requests that failed (a conditional write refused, say). DynamoDB reports no capacity with an error,
   * though a refused write still consumes write units; these are left out of the units above.
   */
  dynamodbFailedRequests: number;
  /** SQS API calls. */
  sqsRequests: number;
  /** SQS requests as billed: each 64 KB chunk of a request's message payload counts as one request. */
  sqsBilledRequests: number;
  /** S3 PUT, COPY and POST requests (billed with LIST). */
  s3PutRequests: number;
  /** S3 GET and HEAD requests. */
  s3GetRequests: number;
  s3ListRequests: number;
  /** Of the PUTs, those of the stream archive (keys under `archive/`), and the compressed bytes they put. */
  s3ArchivePutRequests: number;
  s3ArchiveBytes: number;
  /** Every S3 request, the three kinds above and any other. */
  s3Requests: number;
  /** Requests of the event source mapping to Kinesis (GetRecords, GetShardIterator, ListShards): Lambda's polling. */
  kinesisRequests: number;
  /** Bytes of the records GetRecords returned (re-reads after a failed batch included). */
  kinesisBytesRead: number;
  /** Records put on the stream, and their bytes. */
  kinesisRecordsPut: number;
  kinesisBytesPut: number;
  /** PUT payload units (provisioned mode): each record in 25 KB chunks, rounded up. */
  kinesisPutPayloadUnits: number;
  /** Data in as on-demand mode bills it: each record rounded up to 1 KB. */
  kinesisBilledKbPut: number;
  /** Requests to any other service (none today; a new sink shows up here until it gets its own fields). */
  otherRequests: number;
  /**
   * Scoring: predictions the consumer put on the predictions stream (PutRecords), their bytes, PUT payload units
   * (25 KB chunks) and on-demand billed KB (1 KB each at least). Not among the Kinesis figures above.
   */
  predictionRecordsPut: number;
  predictionBytesPut: number;
  predictionPutPayloadUnits: number;
  predictionBilledKbPut: number;
  /** Of the DynamoDB units above, those of the predictions table (predictions, labels, evaluation windows). */
  dynamodbPredictionsWriteUnits: number;
  dynamodbPredictionsReadUnits: number;
}

/** Fields a summary written before they existed may lack: none of those requests were made then. */
export const USAGE_FIELDS_ADDED_LATER: ReadonlySet<keyof Usage> = new Set<keyof Usage>([
  's3ArchivePutRequests',
  's3ArchiveBytes',
  'predictionRecordsPut',
  'predictionBytesPut',
  'predictionPutPayloadUnits',
  'predictionBilledKbPut',
  'dynamodbPredictionsWriteUnits',
  'dynamodbPredictionsReadUnits',
]);

export function emptyUsage(): Usage {
  return {
    invocations: 0,
    consumerMs: 0,
    dynamodbWriteRequests: 0,
    dynamodbWriteUnits: 0,
    dynamodbReadRequests: 0,
    dynamodbReadUnits: 0,
    dynamodbFailedRequests: 0,
    sqsRequests: 0,
    sqsBilledRequests: 0,
    s3PutRequests: 0,
    s3GetRequests: 0,
    s3ListRequests: 0,
    s3ArchivePutRequests: 0,
    s3ArchiveBytes: 0,
    s3Requests: 0,
    kinesisRequests: 0,
    kinesisBytesRead: 0,
    kinesisRecordsPut: 0,
    kinesisBytesPut: 0,
    kinesisPutPayloadUnits: 0,
    kinesisBilledKbPut: 0,
    otherRequests: 0,
    predictionRecordsPut: 0,
    predictionBytesPut: 0,
    predictionPutPayloadUnits: 0,
    predictionBilledKbPut: 0,
    dynamodbPredictionsWriteUnits: 0,
    dynamodbPredictionsReadUnits: 0,
  };
}

const DYNAMODB_WRITES = new Set(['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem', 'TransactWriteItems']);
const DYNAMODB_READS = new Set(['GetItem', 'BatchGetItem', 'Query', 'Scan', 'TransactGetItems']);
const S3_PUT_CLASS = new Set(['PutObject', 'CopyObject', 'CreateMultipartUpload', 'UploadPart', 'CompleteMultipartUpload']);
const S3_GET_CLASS = new Set(['GetObject', 'HeadObject']);
const S3_LIST_CLASS = new Set(['ListObjectsV2', 'ListObjects', 'ListObjectVersions', 'ListMultipartUploads']);

const SQS_CHUNK_BYTES = 64 * 1024;
const KINESIS_PAYLOAD_UNIT_BYTES = 25 * 1024;

type Capacity = { CapacityUnits?: number; TableName?: string } | undefined;

function capacityUnits(c: Capacity | Capacity[], table?: string): number {
  const list = Array.isArray(c) ? c : [c];
  return list.filter((x) => table === undefined || x?.TableName === table).reduce((n, x) => n + (x?.CapacityUnits ?? 0), 0);
}

export interface UsageRecorderOptions {
  /** The predictions table, whose DynamoDB units are also counted on their own. */
  readonly predictionsTable?: string;
}

function sqsPayloadBytes(command: string, input: Record<string, unknown>): number | undefined {
  const body = (m: unknown) => Buffer.byteLength(String((m as { MessageBody?: unknown }).MessageBody ?? ''), 'utf8');
  if (command === 'SendMessage') return body(input);
  if (command === 'SendMessageBatch') return ((input.Entries as unknown[] | undefined) ?? []).reduce<number>((n, e) => n + body(e), 0);
  return undefined;
}

export class UsageRecorder {
  private readonly u = emptyUsage();
  private readonly predictionsTable: string | undefined;

  public constructor(o: UsageRecorderOptions = {}) {
    this.predictionsTable = o.predictionsTable;
  }

  /** Adds the counting middleware to a client: pass it as the consumer's `clientHook`. */
  public readonly hook: ClientHook = (client: SdkClient) => {
    client.middlewareStack.add((next, context) => this.count(next, context), { step: 'initialize', name: 'usageRecorder' });
  };

  /** One handler invocation that took `ms`. */
  public invocation(ms: number): void {
    this.u.invocations += 1;
    // Lambda bills each invocation's duration rounded up to the millisecond.
    this.u.consumerMs += Math.ceil(ms);
  }

  /** Records put on the stream (their payloads). */
  public put(payloads: ReadonlyArray<string | Uint8Array>): void {
    for (const p of payloads) {
      const bytes = typeof p === 'string' ? Buffer.byteLength(p, 'utf8') : p.byteLength;
      this.u.kinesisRecordsPut += 1;
      this.u.kinesisBytesPut += bytes;
      this.u.kinesisPutPayloadUnits += Math.max(1, Math.ceil(bytes / KINESIS_PAYLOAD_UNIT_BYTES));
      this.u.kinesisBilledKbPut += Math.max(1, Math.ceil(bytes / 1024));
    }
  }

  public usage(): Usage {
    return { ...this.u };
  }

  private count(next: InitializeHandler<object, MetadataBearer>, context: HandlerExecutionContext): InitializeHandler<object, MetadataBearer> {
    const service = (context.clientName ?? '').replace(/Client$/, '');
    const command = (context.commandName ?? '').replace(/Command$/, '');
    return async (args: InitializeHandlerArguments<object>) => {
      let input = args.input as Record<string, unknown>;
      const dynamoWrite = service === 'DynamoDB' && DYNAMODB_WRITES.has(command);
      const dynamoRead = service === 'DynamoDB' && DYNAMODB_READS.has(command);
      // Asking for the capacity changes nothing in what DynamoDB does or bills; without it a request reports none.
      if ((dynamoWrite || dynamoRead) && input.ReturnConsumedCapacity === undefined) input = { ...input, ReturnConsumedCapacity: 'TOTAL' };
      const u = this.u;
      if (dynamoWrite) u.dynamodbWriteRequests += 1;
      else if (dynamoRead) u.dynamodbReadRequests += 1;
      else if (service === 'SQS') {
        u.sqsRequests += 1;
        const bytes = sqsPayloadBytes(command, input);
        u.sqsBilledRequests += bytes === undefined ? 1 : Math.max(1, Math.ceil(bytes / SQS_CHUNK_BYTES));
      } else if (service === 'S3') {
        u.s3Requests += 1;
        if (S3_PUT_CLASS.has(command)) u.s3PutRequests += 1;
        if (command === 'PutObject' && String(input.Key ?? '').startsWith(`${ARCHIVE_OBJECT_PREFIX}/`)) {
          u.s3ArchivePutRequests += 1;
          u.s3ArchiveBytes += (input.Body as Uint8Array | undefined)?.byteLength ?? 0;
        }
        else if (S3_GET_CLASS.has(command)) u.s3GetRequests += 1;
        else if (S3_LIST_CLASS.has(command)) u.s3ListRequests += 1;
      } else if (service === 'Kinesis' && command === 'PutRecords') {
        // Only the consumer's predictions are put through a counted client (the sandbox counts its own puts).
        for (const r of (input.Records as Array<{ Data?: Uint8Array }> | undefined) ?? []) {
          const bytes = r.Data?.byteLength ?? 0;
          u.predictionRecordsPut += 1;
          u.predictionBytesPut += bytes;
          u.predictionPutPayloadUnits += Math.max(1, Math.ceil(bytes / KINESIS_PAYLOAD_UNIT_BYTES));
          u.predictionBilledKbPut += Math.max(1, Math.ceil(bytes / 1024));
        }
      } else if (service === 'Kinesis') u.kinesisRequests += 1;
      else u.otherRequests += 1;
      let result;
      try {
        result = await next({ ...args, input });
      } catch (e) {
        if (dynamoWrite || dynamoRead) u.dynamodbFailedRequests += 1;
        throw e;
      }
      const output = result.output as { ConsumedCapacity?: Capacity | Capacity[]; Records?: Array<{ Data?: Uint8Array }> };
      if (dynamoWrite && output.ConsumedCapacity) u.dynamodbWriteUnits += capacityUnits(output.ConsumedCapacity);
      if (dynamoRead && output.ConsumedCapacity) u.dynamodbReadUnits += capacityUnits(output.ConsumedCapacity);
      if (this.predictionsTable !== undefined && output.ConsumedCapacity) {
        if (dynamoWrite) u.dynamodbPredictionsWriteUnits += capacityUnits(output.ConsumedCapacity, this.predictionsTable);
        if (dynamoRead) u.dynamodbPredictionsReadUnits += capacityUnits(output.ConsumedCapacity, this.predictionsTable);
      }
      if (service === 'Kinesis' && command === 'GetRecords') u.kinesisBytesRead += (output.Records ?? []).reduce((n, r) => n + (r.Data?.byteLength ?? 0), 0);
      return result;
    };
  }
}
