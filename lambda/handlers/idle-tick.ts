/**
 * Scheduled tick (every minute in the stack): advances the watermark of quiet shards whose consumer is verifiably
 * caught up, and fires their due windows with the consumer's own batch step (adapters/idle-shards.ts). Publishes
 * IdleAdvances (shards advanced by this tick).
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { type ClientHook, dynamoClient, hooked, sqsClient } from '../adapters/aws-clients';
import { processBatch } from '../adapters/batch-processor';
import { ConfigError, type ConsumerConfig, configFromEnv, requiredVariable } from '../adapters/config';
import { DeadLetterSender } from '../adapters/dead-letters';
import { DEFAULT_IDLE_MARGIN_MS, type IdleShardResult, tickIdleShards } from '../adapters/idle-shards';
import { kinesisClient } from '../adapters/kinesis-client';
import { ResultObjectWriter } from '../adapters/result-objects';
import { s3Client } from '../adapters/s3-client';
import { StateStore } from '../adapters/state-store';
import { METRICS_NAMESPACE, MetricName, PIPELINE_DIMENSION } from '../contract/metric-names';
import { IDLE_TICK_ENV } from '../contract/resources';

export interface IdleTickConfig {
  readonly consumer: ConsumerConfig;
  readonly streamName: string;
  readonly marginMs: number;
}

export function idleTickConfigFromEnv(env: NodeJS.ProcessEnv = process.env): IdleTickConfig {
  const raw = env[IDLE_TICK_ENV.marginMs];
  const marginMs = raw === undefined || raw.trim() === '' ? DEFAULT_IDLE_MARGIN_MS : Number(raw);
  if (!Number.isInteger(marginMs) || marginMs < 0) throw new ConfigError(`${IDLE_TICK_ENV.marginMs} must be a non-negative integer (ms), got "${raw}"`);
  // The tick applies no record, so it scores nothing: a spec's scoring section needs no model or predictions table here.
  return { consumer: configFromEnv(env, { scoring: false }), streamName: requiredVariable(env, IDLE_TICK_ENV.streamName), marginMs };
}

export interface CreateIdleTickOptions {
  readonly config: IdleTickConfig;
  readonly now?: () => number;
  readonly logger?: Logger;
  readonly metrics?: Metrics;
  readonly clientHook?: ClientHook;
}

export function createIdleTick(opts: CreateIdleTickOptions): () => Promise<IdleShardResult[]> {
  const { consumer: config, streamName, marginMs } = opts.config;
  if (config.parallelizationFactor !== 1) throw new ConfigError(`idle shards need parallelizationFactor 1, got ${config.parallelizationFactor}: the checkpoint must be a position every earlier record was processed before`);
  const logger = opts.logger ?? new Logger({ serviceName: config.pipelineName });
  const metrics = opts.metrics ?? pipelineMetrics(config.pipelineName);
  const dynamo = hooked(dynamoClient({ maxAttempts: 8 }), opts.clientHook);
  const kinesis = hooked(kinesisClient({ maxAttempts: 8 }), opts.clientHook);
  const sqs = hooked(sqsClient({ maxAttempts: 8 }), opts.clientHook);
  const s3 = hooked(s3Client({ maxAttempts: 8 }), opts.clientHook);
  const now = opts.now ?? Date.now;
  return async () => {
    const state = new StateStore({ client: dynamo, tableName: config.stateTable });
    const results = await tickIdleShards({
      kinesis,
      streamName,
      state,
      marginMs,
      now,
      fire: async (quietShards) => {
        await processBatch([], {
          spec: config.spec,
          pipelineName: config.pipelineName,
          state,
          results: new ResultObjectWriter({ client: s3, bucket: config.resultsBucket }),
          deadLetters: new DeadLetterSender({ client: sqs, queueUrl: config.deadLetterQueueUrl }),
          quietShards,
          now,
        });
      },
    });
    // Closed parents that followed their children count too: their windows were made final the same way.
    const advanced = results.filter((r) => r.verdict === 'advanced' || r.verdict === 'followed').length;
    metrics.addMetric(MetricName.IdleAdvances, MetricUnit.Count, advanced);
    metrics.publishStoredMetrics();
    logger.info('idle tick', { shards: results });
    return results;
  };
}

function pipelineMetrics(pipelineName: string): Metrics {
  const m = new Metrics({ namespace: METRICS_NAMESPACE });
  m.clearDefaultDimensions();
  m.setDefaultDimensions({ [PIPELINE_DIMENSION]: pipelineName });
  return m;
}

let tick: ReturnType<typeof createIdleTick> | undefined;

/** Lambda entry point (EventBridge schedule). */
export const handler = async (): Promise<{ advanced: string[] }> => {
  tick ??= createIdleTick({ config: idleTickConfigFromEnv() });
  const results = await tick();
  return { advanced: results.filter((r) => r.verdict === 'advanced' || r.verdict === 'followed').map((r) => r.shard) };
};
