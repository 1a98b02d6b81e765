/**
 * Development stacks (`-c devStack=true`, the prop `development`): every stream at the cheapest idle settings
 * (provisioned, one shard, 24 h retention) and the data destroyed with the stack, unless given otherwise; the idle
 * cost of their streams in docs/deploy.md is the template's, at list prices.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, type CfnElement, CfnDeletionPolicy, type CfnResource, Duration, RemovalPolicy } from 'aws-cdk-lib';
import { StreamMode, type CfnStream } from 'aws-cdk-lib/aws-kinesis';
import { describe, expect, it } from 'vitest';
import { PipelineStack } from '../../lib/pipeline-stack';
import { FRAUD_MODEL_JSON, FRAUD_SPEC_JSON, NO_BUNDLING, ROOT, buildPipeline, examplePipeline } from './fixtures';

/** us-east-1 list prices of docs/deploy.md. */
const SHARD_HOUR = 0.015;
const ON_DEMAND_STREAM_HOUR = 0.04;
const HOURS_A_MONTH = 730;

interface StreamResource {
  readonly Properties: { StreamModeDetails?: { StreamMode: string }; ShardCount?: number; RetentionPeriodHours?: number };
  readonly DeletionPolicy?: string;
}

// One synthesis: the example spec scores and evaluates, so the stack has all three streams.
const dev = buildPipeline({ development: true });
const streams = (t: typeof dev.template): StreamResource[] => Object.values(t.findResources('AWS::Kinesis::Stream')) as StreamResource[];

/** Monthly idle cost of a template's streams: provisioned per shard-hour, on-demand per stream-hour. */
function streamsMonthly(list: readonly StreamResource[]): number {
  return list.reduce((sum, s) => sum + HOURS_A_MONTH * (s.Properties.StreamModeDetails?.StreamMode === 'PROVISIONED' ? SHARD_HOUR * (s.Properties.ShardCount ?? 1) : ON_DEMAND_STREAM_HOUR), 0);
}

describe('a development stack', () => {
  it('provisions every stream with one shard and 24 hours retention', () => {
    const list = streams(dev.template);
    expect(list).toHaveLength(3);
    for (const s of list) expect(s.Properties).toMatchObject({ StreamModeDetails: { StreamMode: 'PROVISIONED' }, ShardCount: 1, RetentionPeriodHours: 24 });
  });

  it('destroys the state table with the stack', () => {
    const id = dev.stack.getLogicalId(dev.stack.tables.stateTable.node.defaultChild as CfnElement);
    expect((dev.template.toJSON().Resources[id] as { DeletionPolicy: string }).DeletionPolicy).toBe('Delete');
  });

  it('keeps what is given explicitly: a stream mode, a retention, the removal policy', () => {
    const stack = new PipelineStack(new App({ context: NO_BUNDLING }), 'DevOverrides', {
      specJson: FRAUD_SPEC_JSON,
      modelJson: FRAUD_MODEL_JSON,
      pipelineName: 'fraud',
      development: true,
      removalPolicy: RemovalPolicy.RETAIN,
      stream: { streamMode: StreamMode.ON_DEMAND },
      predictions: { stream: { retentionPeriod: Duration.days(3) } },
      labels: { stream: { shardCount: 2 } },
    });
    const cfn = (s: { node: { defaultChild?: unknown } }) => s.node.defaultChild as CfnStream;
    expect([cfn(stack.eventStream.stream).streamModeDetails, cfn(stack.eventStream.stream).shardCount, cfn(stack.eventStream.stream).retentionPeriodHours]).toEqual([{ streamMode: 'ON_DEMAND' }, undefined, 24]);
    expect([cfn(stack.predictions!.stream).shardCount, cfn(stack.predictions!.stream).retentionPeriodHours]).toEqual([1, 72]);
    expect([cfn(stack.labelsStream!.stream).streamModeDetails, cfn(stack.labelsStream!.stream).shardCount]).toEqual([{ streamMode: 'PROVISIONED' }, 2]);
    expect((stack.tables.stateTable.node.defaultChild as CfnResource).cfnOptions.deletionPolicy).toBe(CfnDeletionPolicy.RETAIN);
  });

  it('costs what docs/deploy.md says while idle, against the default stack', () => {
    const doc = readFileSync(join(ROOT, 'docs', 'deploy.md'), 'utf8');
    const usd = (n: number) => `$${n.toFixed(2)}`;
    const devMonthly = streamsMonthly(streams(dev.template));
    const defaultMonthly = streamsMonthly(streams(examplePipeline().template));
    expect([usd(devMonthly), usd(defaultMonthly)]).toEqual(['$32.85', '$87.60']);
    expect(doc).toContain(`| Example spec (3 streams: ingest, predictions, labels) | ${usd(defaultMonthly)} | ${usd(devMonthly)} |`);
    // Features only: one stream of each kind.
    const one = (s: StreamResource['Properties']) => streamsMonthly([{ Properties: s }]);
    expect(doc).toContain(`| Features only (1 stream) | ${usd(one({ StreamModeDetails: { StreamMode: 'ON_DEMAND' } }))} | ${usd(one(streams(dev.template)[0]!.Properties))} |`);
  });
});

