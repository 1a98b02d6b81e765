/**
 * Writes predictions: to the predictions stream (for downstream consumers), then to the predictions table (for
 * the label join), each item conditional on not existing. The stream put comes first so that a prediction in the
 * table was always put to the stream; a crash between the two repeats it on the stream (at least once there,
 * readers dedupe by predictionId) while the table holds it once. A re-delivered record whose prediction is
 * already in the table is not put again anywhere.
 */
import { ConditionalCheckFailedException, type DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { type KinesisClient, PutRecordsCommand, type PutRecordsRequestEntry } from '@aws-sdk/client-kinesis';
import { type StoredPrediction, evaluationWindowStart } from '../core/label-join';
import type { Prediction } from '../core/scoring';
import { pool, retryUnprocessed } from './concurrency';
import { type Item, numberAttr } from './dynamo-io';
import { PREDICTION_SK, PredictionAttr, predictionPk, readPredictions } from './evaluation-items';
import type { WriteGate } from './state-store';

export interface PredictionStoreOptions {
  readonly dynamo: DynamoDBClient;
  readonly kinesis: KinesisClient;
  readonly tableName: string;
  readonly streamName: string;
  /** Evaluation window size: each prediction item names its window. */
  readonly evaluationWindowMs: number;
  /** How long after its event time a prediction item is kept (the label window), before a 7-day margin. */
  readonly keepMs: number;
  /** Called before every write (fault injection). */
  readonly writeGate?: WriteGate;
  /** @default 16 */
  readonly concurrency?: number;
}

/** Kinesis PutRecords takes at most 500 records (and 5 MB) a request. */
const PUT_RECORDS_MAX = 500;
const PUT_RECORDS_MAX_BYTES = 4_500_000;
const DAY_MS = 86_400_000;

export class PredictionStore {
  public consumedWriteUnits = 0;
  public itemsWritten = 0;
  public streamRecords = 0;
  private readonly o: PredictionStoreOptions;

  public constructor(o: PredictionStoreOptions) {
    this.o = o;
  }

  /** The stored predictions of those (key, event id) pairs that have one, by predictionRef (consistent reads). */
  public existing(refs: ReadonlyArray<{ readonly key: string; readonly eventId: string }>): Promise<Map<string, StoredPrediction>> {
    return readPredictions(this.o.dynamo, this.o.tableName, refs);
  }

  /**
   * Puts predictions to the stream (partitioned by key, in order), then each to the table unless it exists.
   * Returns the predictions whose item this call wrote and those found written already, with the stored ones.
   */
  public async write(predictions: readonly Prediction[]): Promise<{ written: Prediction[]; existed: Prediction[] }> {
    if (predictions.length === 0) return { written: [], existed: [] };
    await this.putToStream(predictions);
    const existed: Prediction[] = [];
    const written: Prediction[] = [];
    await pool(predictions, this.o.concurrency ?? 16, async (p) => {
      if (await this.putItem(p)) written.push(p);
      else existed.push(p);
    });
    return { written, existed };
  }

  private async putToStream(predictions: readonly Prediction[]): Promise<void> {
    const chunks: PutRecordsRequestEntry[][] = [];
    let chunk: PutRecordsRequestEntry[] = [];
    let bytes = 0;
    for (const p of predictions) {
      const data = Buffer.from(JSON.stringify(p), 'utf8');
      if (chunk.length === PUT_RECORDS_MAX || bytes + data.length > PUT_RECORDS_MAX_BYTES) {
        chunks.push(chunk);
        chunk = [];
        bytes = 0;
      }
      chunk.push({ Data: data, PartitionKey: p.key.length > 256 ? p.key.slice(0, 256) : p.key });
      bytes += data.length;
    }
    if (chunk.length > 0) chunks.push(chunk);
    for (const entries of chunks) {
      let pending = entries;
      await retryUnprocessed(async () => {
        await this.o.writeGate?.(`PutRecords ${pending.length} predictions`);
        const res = await this.o.kinesis.send(new PutRecordsCommand({ StreamName: this.o.streamName, Records: pending }));
        const failed = (res.Records ?? []).map((r, i) => (r.ErrorCode ? pending[i]! : undefined)).filter((e): e is PutRecordsRequestEntry => e !== undefined);
        this.streamRecords += pending.length - failed.length;
        pending = failed;
        return pending.length;
      }, `PutRecords ${this.o.streamName}`);
    }
  }

  /** True when this call wrote the item; false when a prediction for the event was there already. */
  private async putItem(p: Prediction): Promise<boolean> {
    const window = evaluationWindowStart(p.eventTime, this.o.evaluationWindowMs);
    const item: Item = {
      pk: { S: predictionPk(p.key, p.eventId) },
      sk: { S: PREDICTION_SK },
      [PredictionAttr.doc]: { S: JSON.stringify(p) },
      [PredictionAttr.score]: numberAttr(p.score),
      [PredictionAttr.positive]: { BOOL: p.positive },
      [PredictionAttr.eventTime]: numberAttr(p.eventTime),
      [PredictionAttr.window]: numberAttr(window),
      [PredictionAttr.modelVersion]: { S: p.modelVersion },
      expiresAt: numberAttr(Math.ceil((p.eventTime + this.o.keepMs + 7 * DAY_MS) / 1000)),
    };
    await this.o.writeGate?.(`PutItem prediction ${p.predictionId}`);
    try {
      const res = await this.o.dynamo.send(
        new PutItemCommand({ TableName: this.o.tableName, Item: item, ConditionExpression: 'attribute_not_exists(pk)', ReturnConsumedCapacity: 'TOTAL' }),
      );
      this.consumedWriteUnits += res.ConsumedCapacity?.CapacityUnits ?? 0;
      this.itemsWritten += 1;
      return true;
    } catch (e) {
      if (e instanceof ConditionalCheckFailedException || (e as Error).name === 'ConditionalCheckFailedException') return false;
      throw e;
    }
  }
}
