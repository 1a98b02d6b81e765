/**
 * A fresh set of the consumer's resources on the emulators for one test run (state table, results bucket,
 * dead-letter queue), and the stores the consumer builds per invocation over them.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { CreateQueueCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { createActiveTable } from '../../bin/local/tables';
import { dynamoClient, sqsClient } from '../../lambda/adapters/aws-clients';
import { DeadLetterSender } from '../../lambda/adapters/dead-letters';
import { ResultObjectWriter } from '../../lambda/adapters/result-objects';
import { s3Client } from '../../lambda/adapters/s3-client';
import { StateStore, type WriteGate } from '../../lambda/adapters/state-store';
import { DEAD_LETTER_QUEUE, STATE_TABLE, createQueueInput } from '../../lambda/contract/resources';

export interface ConsumerEnv {
  dynamo: DynamoDBClient;
  sqs: SQSClient;
  s3: S3Client;
  stateTable: string;
  bucket: string;
  queueUrl: string;
}

let seq = 0;

/** New resources named `<prefix><n>x<time>-…`, so runs in one emulator never share them. */
export async function freshConsumerEnv(prefix: string): Promise<ConsumerEnv> {
  const dynamo = dynamoClient();
  const sqs = sqsClient();
  const s3 = s3Client();
  const id = `${prefix}${++seq}x${Date.now() % 100000}`;
  const stateTable = `${id}-state`;
  const bucket = `${id}-results`;
  await createActiveTable(dynamo, STATE_TABLE, stateTable);
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const q = await sqs.send(new CreateQueueCommand(createQueueInput(DEAD_LETTER_QUEUE, `${id}-dlq`)));
  return { dynamo, sqs, s3, stateTable, bucket, queueUrl: q.QueueUrl! };
}

/** The stores one invocation builds, all behind the same write gate (fault injection). */
export function consumerStores(env: ConsumerEnv, gate?: WriteGate): { state: StateStore; results: ResultObjectWriter; deadLetters: DeadLetterSender } {
  return {
    state: new StateStore({ client: env.dynamo, tableName: env.stateTable, ...(gate ? { writeGate: gate } : {}) }),
    results: new ResultObjectWriter({ client: env.s3, bucket: env.bucket, ...(gate ? { writeGate: gate } : {}) }),
    deadLetters: new DeadLetterSender({ client: env.sqs, queueUrl: env.queueUrl, ...(gate ? { writeGate: gate } : {}) }),
  };
}
