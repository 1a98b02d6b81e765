/**
 * A fresh predictions table and dead-letter queue on the emulators for one evaluation test run, prediction items
 * written as the scoring side writes them (evaluation-items.ts), the labels side's stores over them, and a
 * snapshot of everything the evaluation stores: prediction labels, window items, the registry and the dead letters.
 */
import { type AttributeValue, type DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, DeleteMessageBatchCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { createActiveTable } from '../../bin/local/tables';
import { dynamoClient, sqsClient } from '../../lambda/adapters/aws-clients';
import { DeadLetterSender } from '../../lambda/adapters/dead-letters';
import { numberAttr, scanAll } from '../../lambda/adapters/dynamo-io';
import { PREDICTION_SK, PredictionAttr, predictionPk } from '../../lambda/adapters/evaluation-items';
import { EvaluationStore } from '../../lambda/adapters/evaluation-store';
import { type LabelsOutcome, processLabels } from '../../lambda/adapters/labels-processor';
import type { WriteGate } from '../../lambda/adapters/state-store';
import { evaluationWindowStart } from '../../lambda/core/label-join';
import type { InputRecord } from '../../lambda/core/results';
import type { PipelineSpec } from '../../lambda/core/spec';
import { DEAD_LETTER_QUEUE, PREDICTIONS_TABLE, TTL_ATTRIBUTE, createQueueInput } from '../../lambda/contract/resources';

export interface EvaluationEnv {
  dynamo: DynamoDBClient;
  sqs: SQSClient;
  table: string;
  queueUrl: string;
}

let n = 0;

export async function freshEvaluationEnv(prefix: string): Promise<EvaluationEnv> {
  const dynamo = dynamoClient();
  const sqs = sqsClient();
  const id = `${prefix}${++n}x${Date.now() % 100000}`;
  const table = `${id}-predictions`;
  await createActiveTable(dynamo, PREDICTIONS_TABLE, table);
  const q = await sqs.send(new CreateQueueCommand(createQueueInput(DEAD_LETTER_QUEUE, `${id}-dlq`)));
  return { dynamo, sqs, table, queueUrl: q.QueueUrl! };
}

export interface PredictionFixture {
  readonly eventId: string;
  readonly key: string;
  readonly eventTime: number;
  readonly score: number;
  readonly positive: boolean;
  readonly modelVersion?: string;
  /** The features the model read, as the prediction document carries them. */
  readonly features?: Record<string, { value: number | null; newestEventTime: number | null; status: string }>;
}

/** Puts a prediction item as the scoring side writes it. */
export async function putPrediction(env: EvaluationEnv, spec: PipelineSpec, p: PredictionFixture): Promise<void> {
  const ev = spec.evaluation!;
  const modelVersion = p.modelVersion ?? 'v1';
  const doc = { predictionId: `${modelVersion}:${p.eventId}`, key: p.key, eventId: p.eventId, eventTime: p.eventTime, arrivalTime: p.eventTime + 100, scoredAt: p.eventTime + 150, score: p.score, positive: p.positive, modelVersion, features: p.features ?? {} };
  const item: Record<string, AttributeValue> = {
    pk: { S: predictionPk(p.key, p.eventId) },
    sk: { S: PREDICTION_SK },
    [PredictionAttr.doc]: { S: JSON.stringify(doc) },
    // Scores near 0 can be below DynamoDB's number range: stored as the scoring side stores numbers.
    [PredictionAttr.score]: numberAttr(p.score),
    [PredictionAttr.positive]: { BOOL: p.positive },
    [PredictionAttr.eventTime]: { N: String(p.eventTime) },
    [PredictionAttr.window]: { N: String(evaluationWindowStart(p.eventTime, ev.windowMs)) },
    [PredictionAttr.modelVersion]: { S: modelVersion },
    [TTL_ATTRIBUTE]: { N: String(Math.floor((p.eventTime + ev.labelWindowMs + 7 * 86_400_000) / 1000)) },
  };
  await env.dynamo.send(new PutItemCommand({ TableName: env.table, Item: item, ConditionExpression: 'attribute_not_exists(pk)' }));
}

export function evaluationStore(env: EvaluationEnv, spec: PipelineSpec, gate?: WriteGate): EvaluationStore {
  return new EvaluationStore({ client: env.dynamo, tableName: env.table, evaluation: spec.evaluation!, ...(gate ? { writeGate: gate } : {}) });
}

/** One labels delivery, every store behind the same write gate. */
export function deliverLabels(env: EvaluationEnv, spec: PipelineSpec, records: readonly InputRecord[], gate?: WriteGate): Promise<LabelsOutcome> {
  return processLabels(records, {
    spec,
    store: evaluationStore(env, spec, gate),
    deadLetters: new DeadLetterSender({ client: env.sqs, queueUrl: env.queueUrl, ...(gate ? { writeGate: gate } : {}) }),
  });
}

export class InjectedFault extends Error {
  public constructor(message: string) {
    super(message);
    this.name = 'InjectedFault';
  }
}

/** Fails the k-th write (0-based) of the stores it is given to. */
export function failAt(k: number): WriteGate & { count: () => number } {
  let i = 0;
  const gate = (what: string): void => {
    if (i++ === k) throw new InjectedFault(`injected before write ${k}: ${what}`);
  };
  return Object.assign(gate, { count: () => i });
}

export interface EvaluationSnapshot {
  /** eventId → label, labelTime, labeledBy (absent: no label). */
  predictions: Record<string, unknown>;
  /** Window items, every attribute. */
  windows: Record<string, Record<string, unknown>>;
  registry: Record<string, unknown>;
  /** Dead letter bodies, parsed, sorted by sequence number and reason. */
  deadLetters: Array<Record<string, unknown>>;
}

const plain = (v: AttributeValue): unknown => (v.N !== undefined ? Number(v.N) : v.S ?? v.BOOL ?? (v.NS ? [...v.NS].map(Number).sort((a, b) => a - b) : v));

/** Everything the evaluation stored, and the dead letters (drained from the queue). */
export async function evaluationSnapshot(env: EvaluationEnv): Promise<EvaluationSnapshot> {
  const items = await scanAll(env.dynamo, { TableName: env.table, ConsistentRead: true });
  const out: EvaluationSnapshot = { predictions: {}, windows: {}, registry: {}, deadLetters: [] };
  for (const it of items) {
    const pk = it.pk!.S!;
    const attrs = Object.fromEntries(Object.entries(it).filter(([k]) => k !== 'pk' && k !== 'sk').sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, plain(v)]));
    if (pk.startsWith('prediction#')) out.predictions[eventIdOfRef(pk.slice('prediction#'.length))] = [attrs.label, attrs.labelTime, attrs.labeledBy];
    else if (pk === 'evaluation#registry') out.registry = attrs;
    else out.windows[pk] = attrs;
  }
  for (let empty = 0; empty < 2; ) {
    const res = await env.sqs.send(new ReceiveMessageCommand({ QueueUrl: env.queueUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 60 }));
    const msgs = res.Messages ?? [];
    if (msgs.length === 0) {
      empty++;
      continue;
    }
    out.deadLetters.push(...msgs.map((m) => JSON.parse(m.Body!) as Record<string, unknown>));
    await env.sqs.send(new DeleteMessageBatchCommand({ QueueUrl: env.queueUrl, Entries: msgs.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })) }));
  }
  out.deadLetters.sort((a, b) => `${String(a.sequenceNumber)} ${String(a.reason)}`.localeCompare(`${String(b.sequenceNumber)} ${String(b.reason)}`));
  return out;
}

/** The event id of a predictionRef (`<key length>:<key>/<event id>`). */
function eventIdOfRef(ref: string): string {
  const colon = ref.indexOf(':');
  return ref.slice(colon + 1 + Number(ref.slice(0, colon)) + 1);
}
