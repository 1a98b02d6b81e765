/**
 * The resources the sandbox creates on the emulators, the CDK stack and lambda/contract/resources.ts agree: same
 * table keys, same queue kinds. Read back from the emulators (DescribeTable, GetQueueAttributes) and from the
 * synthesized template, not from the inputs that made them.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { App, type CfnElement } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Emulators } from '../../../bin/local/emulators';
import { workerEmulators } from '../../support/worker-emulators';
import { LocalPipeline } from '../../../bin/local/pipeline';
import { dynamoClient, sqsClient } from '../../../lambda/adapters/aws-clients';
import { parseSpecJson } from '../../../lambda/core/spec';
import { PipelineStack } from '../../../lib/pipeline-stack';
import { DEAD_LETTER_QUEUE, ON_FAILURE_QUEUE, type QueueDefinition, STATE_TABLE, type TableDefinition } from '../../../lambda/contract/resources';

const SPEC_JSON = readFileSync(path.join(__dirname, '..', '..', '..', 'bin', 'specs', 'fraud.json'), 'utf8');
const MODEL_JSON = readFileSync(path.join(__dirname, '..', '..', '..', 'bin', 'specs', 'fraud-model.json'), 'utf8');

/** Key schema of a definition, in the shape both DescribeTable and CloudFormation use. */
function expectedKeys(def: TableDefinition) {
  return {
    KeySchema: [
      { AttributeName: def.partitionKey.name, KeyType: 'HASH' },
      { AttributeName: def.sortKey.name, KeyType: 'RANGE' },
    ],
    AttributeDefinitions: [
      { AttributeName: def.partitionKey.name, AttributeType: def.partitionKey.type },
      { AttributeName: def.sortKey.name, AttributeType: def.sortKey.type },
    ],
  };
}

const byName = <T extends { AttributeName?: string }>(xs: readonly T[] | undefined): T[] =>
  [...(xs ?? [])].sort((a, b) => (a.AttributeName ?? '').localeCompare(b.AttributeName ?? ''));

/** FIFO settings as plain booleans, whatever form the source spells them in. */
function fifoSettings(fifo: unknown, contentDedup: unknown): { fifo: boolean; contentBasedDeduplication: boolean } {
  return { fifo: fifo === true || fifo === 'true', contentBasedDeduplication: contentDedup === true || contentDedup === 'true' };
}

const expectedQueue = (def: QueueDefinition) => ({ fifo: def.fifo, contentBasedDeduplication: def.contentBasedDeduplication });

type Resources = Record<string, { Type: string; Properties: Record<string, unknown> }>;
let synth: { stack: PipelineStack; resources: Resources } | undefined;

/** The stack synthesized once for this file; asset bundling is skipped: only resource properties matter here. */
function synthesized() {
  if (!synth) {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new PipelineStack(app, 'SandboxResources', { specJson: SPEC_JSON, modelJson: MODEL_JSON, pipelineName: 'fraud' });
    synth = { stack, resources: (Template.fromStack(stack).toJSON() as { Resources: Resources }).Resources };
  }
  const { stack, resources } = synth;
  const props = (c: { node: { defaultChild?: unknown } }) => resources[stack.getLogicalId(c.node.defaultChild as CfnElement)]!.Properties;
  const ofType = (type: string) => Object.values(resources).filter((r) => r.Type === type).map((r) => r.Properties);
  return { stack, props, ofType };
}

describe('sandbox resources match the CDK definitions', () => {
  const saved = { ...process.env };
  let emulators: Emulators;
  let pipeline: LocalPipeline;

  beforeAll(async () => {
    emulators = await workerEmulators();
    Object.assign(process.env, emulators.env());
    pipeline = await LocalPipeline.start({ spec: parseSpecJson(SPEC_JSON), name: 'resources' });
  });

  afterAll(async () => {
    await pipeline?.stop();
    process.env = saved;
    await emulators?.stop();
  });

  it('the state table on the emulator has the defined key schema', async () => {
    const dynamo = dynamoClient();
    for (const [def, name] of [[STATE_TABLE, pipeline.names.stateTable]] as const) {
      const { Table } = await dynamo.send(new DescribeTableCommand({ TableName: name }));
      const want = expectedKeys(def);
      expect(Table?.KeySchema, name).toEqual(want.KeySchema);
      expect(byName(Table?.AttributeDefinitions), name).toEqual(byName(want.AttributeDefinitions));
    }
  });

  it('queues on the emulator have the defined FIFO settings', async () => {
    const sqs = sqsClient();
    for (const [def, url] of [[DEAD_LETTER_QUEUE, pipeline.names.deadLetterQueueUrl], [ON_FAILURE_QUEUE, pipeline.names.onFailureQueueUrl]] as const) {
      const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['All'] }));
      expect(fifoSettings(Attributes?.FifoQueue, Attributes?.ContentBasedDeduplication), url).toEqual(expectedQueue(def));
      expect(url.endsWith('.fifo')).toBe(def.fifo);
      expect(Attributes?.MaximumMessageSize).toBe(String(def.maxMessageBytes));
    }
  });

  it('the synthesized stack declares the same keys and FIFO settings', () => {
    const { stack, props } = synthesized();

    // The deployed stack has the state table only; the sandbox's feature table goes when the consumer stops writing it.
    for (const [def, table] of [[STATE_TABLE, stack.tables.stateTable]] as const) {
      const p = props(table) as { KeySchema: unknown; AttributeDefinitions: Array<{ AttributeName: string }> };
      const want = expectedKeys(def);
      expect(p.KeySchema).toEqual(want.KeySchema);
      expect(byName(p.AttributeDefinitions)).toEqual(byName(want.AttributeDefinitions));
    }
    for (const [def, queue] of [[DEAD_LETTER_QUEUE, stack.queues.deadLetterQueue], [ON_FAILURE_QUEUE, stack.queues.onFailureQueue]] as const) {
      const p = props(queue);
      expect(fifoSettings(p.FifoQueue, p.ContentBasedDeduplication)).toEqual(expectedQueue(def));
      expect(p.MaximumMessageSize).toBe(def.maxMessageBytes);
    }
  });

  it('the local event source mapping runs with the synthesized mapping\'s settings and function timeout', () => {
    const { ofType, props, stack } = synthesized();
    // The feature consumer's mapping (the labels consumer has its own).
    const consumerRef = JSON.stringify({ Ref: stack.getLogicalId(stack.consumer.function.node.defaultChild as CfnElement) });
    const [mapping] = ofType('AWS::Lambda::EventSourceMapping').filter((m) => JSON.stringify(m.FunctionName) === consumerRef);
    const consumer = props(stack.consumer.function);
    expect(mapping).toBeDefined();
    expect(consumer).toBeDefined();
    const age = mapping!.MaximumRecordAgeInSeconds as number | undefined;
    expect(pipeline.esm.settings).toMatchObject({
      startingPosition: mapping!.StartingPosition,
      batchSize: mapping!.BatchSize,
      maximumBatchingWindowMs: (mapping!.MaximumBatchingWindowInSeconds as number) * 1000,
      maximumRetryAttempts: mapping!.MaximumRetryAttempts,
      bisectBatchOnFunctionError: mapping!.BisectBatchOnFunctionError,
      reportBatchItemFailures: (mapping!.FunctionResponseTypes as string[]).includes('ReportBatchItemFailures'),
      functionTimeoutMs: (consumer!.Timeout as number) * 1000,
    });
    expect(pipeline.esm.settings.maximumRecordAgeMs).toBe(age === undefined || age === -1 ? undefined : age * 1000);
    // Not vacuous: the deployed values are the ones docs/sandbox.md states.
    expect([pipeline.esm.settings.maximumBatchingWindowMs, pipeline.esm.settings.maximumRecordAgeMs, pipeline.esm.settings.functionTimeoutMs]).toEqual([1000, 86_400_000, 60_000]);
  });
});
