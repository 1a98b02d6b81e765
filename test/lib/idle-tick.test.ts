/** The idle-shard tick in the stack: scheduled every minute by default, its margin shipped, exactly its access. */
import { Duration } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { PipelinePropsError } from '../../lib/errors';
import { FEATURES_ONLY, buildPipeline, examplePipeline } from './fixtures';

describe('idle shards in the stack', () => {
  it('schedules the tick every minute, 60 s behind the clock, with read access to the stream positions only', () => {
    const { template } = examplePipeline();
    template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(1 minute)', State: 'ENABLED' });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('quiet shards'),
      ReservedConcurrentExecutions: 1,
      Environment: { Variables: Match.objectLike({ IDLE_MARGIN_MS: '60000', STREAM_NAME: Match.anyValue(), STATE_TABLE_NAME: Match.anyValue() }) },
    });
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Sid: 'StreamPositionRead', Action: ['kinesis:ListShards', 'kinesis:GetShardIterator', 'kinesis:GetRecords', 'kinesis:DescribeStreamSummary'] }),
        ]),
      },
    });
  });

  it('takes its schedule and margin, or is turned off', () => {
    const custom = buildPipeline({ idleShards: { every: Duration.minutes(5), margin: Duration.seconds(10) } }).template;
    custom.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(5 minutes)' });
    custom.hasResourceProperties('AWS::Lambda::Function', { Environment: { Variables: Match.objectLike({ IDLE_MARGIN_MS: '10000' }) } });
    expect(buildPipeline({ idleShards: false }).template.findResources('AWS::Events::Rule')).toEqual({});
    // Concurrent batches per shard leave no verified position: off by default there.
    expect(buildPipeline({ ...FEATURES_ONLY, consumer: { parallelizationFactor: 2 } }).template.findResources('AWS::Events::Rule')).toEqual({});
  });

  it('refuses a schedule EventBridge cannot run and idle shards with concurrent batches, by name', () => {
    expect(() => buildPipeline({ idleShards: { every: Duration.seconds(90) } })).toThrow(PipelinePropsError);
    expect(() => buildPipeline({ idleShards: { every: Duration.seconds(90) } })).toThrow(/idleShards: every must be 1 to 60 whole minutes/);
    expect(() => buildPipeline({ ...FEATURES_ONLY, consumer: { parallelizationFactor: 2 }, idleShards: {} })).toThrow(/idleShards needs consumer.parallelizationFactor 1 \(got 2\)/);
  });
});
