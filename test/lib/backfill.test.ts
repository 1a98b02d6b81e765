/**
 * The backfill state machine in the stack: the definition `npm run backfill` executes is the one the stack
 * synthesizes; workers with their own prefixes only; retries and fan-out from props; bad props refused by name.
 */
import { Duration } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { resolveDefinition, synthesizeBackfillDefinition } from '../../bin/backfill/definition';
import { PipelinePropsError } from '../../lib/errors';
import { BACKFILL_STATES } from '../../lambda/contract/resources';
import { buildPipeline } from './fixtures';

function stackDefinition(template: ReturnType<typeof buildPipeline>['template']): Record<string, unknown> {
  const machines = Object.values(template.findResources('AWS::StepFunctions::StateMachine'));
  expect(machines).toHaveLength(1);
  return resolveDefinition((machines[0] as { Properties: { DefinitionString: unknown } }).Properties.DefinitionString);
}

describe('the backfill in the stack', () => {
  const { template } = buildPipeline();

  it('synthesizes the definition the local runner executes: two Distributed Maps over inline items', () => {
    const definition = stackDefinition(template);
    expect(definition).toEqual(synthesizeBackfillDefinition());
    const states = definition.States as Record<string, { Type: string; ItemsPath?: string; ItemProcessor?: { ProcessorConfig: { Mode: string }; States: Record<string, unknown> }; MaxConcurrency?: number }>;
    expect(Object.keys(states)).toEqual([BACKFILL_STATES.plan, BACKFILL_STATES.segments, BACKFILL_STATES.combine, BACKFILL_STATES.partitions, BACKFILL_STATES.finish]);
    for (const map of [states[BACKFILL_STATES.segments]!, states[BACKFILL_STATES.partitions]!]) {
      expect(map.Type).toBe('Map');
      expect(map.ItemProcessor?.ProcessorConfig.Mode).toBe('DISTRIBUTED');
      expect(map.MaxConcurrency).toBe(100);
    }
    expect(Object.keys(states[BACKFILL_STATES.partitions]!.ItemProcessor!.States)).toEqual([BACKFILL_STATES.partition]);
    // A child's result is one word: 10,000 of them stay far below the 256 KB state limit.
    expect((states[BACKFILL_STATES.partitions]!.ItemProcessor!.States[BACKFILL_STATES.partition] as { ResultSelector?: unknown }).ResultSelector).toEqual({ done: true });
    // States carry names, not data: no ItemReader, items inline.
    expect(JSON.stringify(definition)).not.toContain('ItemReader');
  });

  it('gives the worker 15 minutes and read access to the archive, read and write to its runs, nothing else', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Timeout: 900,
      MemorySize: 3008,
      Environment: { Variables: Match.objectLike({ BACKFILL_BUCKET_NAME: Match.anyValue(), PIPELINE_NAME: 'fraud', PIPELINE_SPEC: Match.anyValue() }) },
    });
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Sid: 'ArchiveRead', Action: 's3:GetObject', Resource: { 'Fn::Join': ['', [Match.anyValue(), '/archive/fraud/*']] } }),
          Match.objectLike({ Sid: 'ArchiveList', Action: 's3:ListBucket', Condition: { StringLike: { 's3:prefix': ['archive/fraud/*'] } } }),
          Match.objectLike({ Sid: 'RunObjects', Action: ['s3:GetObject', 's3:PutObject'] }),
        ]),
      },
    });
  });

  it('keeps a run\'s intermediate objects under a prefix of their own, deleted after 7 days unless told otherwise', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: { Rules: Match.arrayWith([Match.objectLike({ Id: 'backfill-intermediates-expire', Prefix: 'backfill-work/', ExpirationInDays: 7, Status: 'Enabled' })]) },
    });
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Sid: 'RunObjects', Resource: [{ 'Fn::Join': ['', [Match.anyValue(), '/backfill/fraud/*']] }, { 'Fn::Join': ['', [Match.anyValue(), '/backfill-work/fraud/*']] }] })]) },
    });
    buildPipeline({ archive: { backfillWorkExpireAfter: Duration.days(2) } }).template.hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: { Rules: Match.arrayWith([Match.objectLike({ Id: 'backfill-intermediates-expire', ExpirationInDays: 2 })]) },
    });
    expect(() => buildPipeline({ archive: { backfillWorkExpireAfter: Duration.hours(12) } })).toThrow(/backfillWorkExpireAfter must be whole days, at least 1/);
  });

  it('takes memory, timeout, fan-out and retries from props', () => {
    const custom = buildPipeline({ backfill: { memorySize: 10_240, timeout: Duration.minutes(5), maxConcurrency: 1000, retries: 0 } }).template;
    custom.hasResourceProperties('AWS::Lambda::Function', { Timeout: 300, MemorySize: 10_240 });
    const states = stackDefinition(custom).States as Record<string, { MaxConcurrency?: number; Retry?: unknown }>;
    expect(states[BACKFILL_STATES.partitions]!.MaxConcurrency).toBe(1000);
    // Without retries, only throttling and Lambda's own errors are retried.
    expect((states[BACKFILL_STATES.plan]!.Retry as Array<{ ErrorEquals: string[] }>).map((r) => r.ErrorEquals[0])).toEqual(['BackfillInputError', 'Lambda.TooManyRequestsException']);
    // A task waits for its worker's timeout plus 30 s (the interpreter and Step Functions would otherwise differ).
    expect((states[BACKFILL_STATES.combine] as { TimeoutSeconds?: number }).TimeoutSeconds).toBe(330);
    expect((stackDefinition(template).States as Record<string, { TimeoutSeconds?: number }>)[BACKFILL_STATES.finish]!.TimeoutSeconds).toBe(930);
    expect((stackDefinition(template).States as Record<string, { Retry?: unknown }>)[BACKFILL_STATES.plan]!.Retry).toEqual([
      // Bad input is not retried: the same bytes fail the same way.
      { ErrorEquals: ['BackfillInputError', 'ArchiveError', 'BackfillError'], MaxAttempts: 0 },
      { ErrorEquals: ['Lambda.TooManyRequestsException', 'Lambda.ServiceException', 'Lambda.AWSLambdaException', 'Lambda.SdkClientException'], IntervalSeconds: 2, MaxAttempts: 8, BackoffRate: 2, MaxDelaySeconds: 60, JitterStrategy: 'FULL' },
      { ErrorEquals: ['States.ALL'], IntervalSeconds: 2, MaxAttempts: 2, BackoffRate: 2 },
    ]);
  });

  it('refuses props Lambda or Step Functions would reject, by name', () => {
    expect(() => buildPipeline({ backfill: { timeout: Duration.minutes(16) } })).toThrow(PipelinePropsError);
    expect(() => buildPipeline({ backfill: { timeout: Duration.minutes(16) } })).toThrow(/backfill: timeout must be 1 second to 15 minutes, got 16 minutes/);
    expect(() => buildPipeline({ backfill: { maxConcurrency: 20_000 } })).toThrow(/backfill: maxConcurrency must be an integer from 1 to 10000, got 20000/);
    expect(() => buildPipeline({ backfill: { memorySize: 64 } })).toThrow(/backfill: memorySize must be an integer from 128 to 10240 MB, got 64/);
    expect(() => buildPipeline({ backfill: { retries: 11 } })).toThrow(/backfill: retries must be an integer from 0 to 10, got 11/);
  });
});
