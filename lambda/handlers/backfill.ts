/**
 * The backfill state machine's worker (lib/backfill.ts): one function, each task state naming its step
 * (adapters/backfill-steps.ts). Steps are pure functions of their input and the run's objects, so a retried task
 * rewrites the same objects.
 */
import { type BackfillDeps, type BackfillRequest, type RunRef, combineStep, finishStep, partitionStep, planStep, segmentStep } from '../adapters/backfill-steps';
import { archivePrefix } from '../adapters/archive-objects';
import { requiredVariable } from '../adapters/config';
import { s3Client } from '../adapters/s3-client';
import { BACKFILL_ENV, BACKFILL_OBJECT_PREFIX, BACKFILL_WORK_PREFIX } from '../contract/resources';

export type BackfillEvent =
  | { readonly action: 'plan'; readonly request: Omit<BackfillRequest, 'source'> & { readonly source?: BackfillRequest['source'] } }
  | { readonly action: 'segment'; readonly run: RunRef; readonly segment: number }
  | { readonly action: 'combine'; readonly run: RunRef }
  | { readonly action: 'partition'; readonly run: RunRef; readonly partition: number }
  | { readonly action: 'finish'; readonly run: RunRef };

/** Runs one step. A request without a source reads the pipeline's own archive. */
export async function runBackfillStep(deps: BackfillDeps, event: BackfillEvent, defaultArchive?: { bucket: string; prefix: string }): Promise<unknown> {
  switch (event.action) {
    case 'plan': {
      const source = event.request.source ?? (defaultArchive === undefined ? undefined : { kind: 'archive' as const, ...defaultArchive });
      if (source === undefined) throw new Error('request.source: none given and the function has no archive');
      return planStep(deps, { ...event.request, source });
    }
    case 'segment':
      return segmentStep(deps, event.run, event.segment);
    case 'combine':
      return combineStep(deps, event.run);
    case 'partition':
      return partitionStep(deps, event.run, event.partition);
    case 'finish':
      return finishStep(deps, event.run);
    default:
      throw new Error(`action must be plan, segment, combine, partition or finish, got ${JSON.stringify((event as { action?: unknown }).action)}`);
  }
}

let deps: BackfillDeps | undefined;

export async function handler(event: BackfillEvent): Promise<unknown> {
  const pipeline = requiredVariable(process.env, BACKFILL_ENV.pipelineName);
  deps ??= {
    s3: s3Client(),
    bucket: requiredVariable(process.env, BACKFILL_ENV.bucketName),
    outPrefix: `${BACKFILL_OBJECT_PREFIX}/${pipeline}/`,
    workPrefix: `${BACKFILL_WORK_PREFIX}/${pipeline}/`,
    defaultSpec: requiredVariable(process.env, BACKFILL_ENV.spec),
  };
  return runBackfillStep(deps, event, { bucket: requiredVariable(process.env, BACKFILL_ENV.archiveBucketName), prefix: archivePrefix(pipeline) });
}
