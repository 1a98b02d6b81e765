/**
 * A worker thread of the local backfill: runs the steps the state machine hands it, as the Lambda function would
 * (lambda/handlers/backfill.ts), one at a time.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { BackfillDeps } from '../../lambda/adapters/backfill-steps';
import { s3Client } from '../../lambda/adapters/s3-client';
import { silenceSdkNodeVersionWarning } from '../cli/node-support';
import { type BackfillEvent, runBackfillStep } from '../../lambda/handlers/backfill';
import { FolderArchiveStore } from '../history/archive-source';
import { S3ArchiveStore } from '../../lambda/adapters/archive-objects';

export interface StepWorkerInit {
  readonly bucket: string;
  readonly outPrefix: string;
  readonly workPrefix: string;
}

export type StepMessage = { readonly id: number; readonly event: BackfillEvent };
export type StepReply = { readonly id: number; readonly ok: true; readonly result: unknown } | { readonly id: number; readonly ok: false; readonly name: string; readonly message: string };

silenceSdkNodeVersionWarning();
const init = workerData as StepWorkerInit;
const s3 = s3Client({ maxAttempts: 8 });
const deps: BackfillDeps = {
  s3,
  bucket: init.bucket,
  outPrefix: init.outPrefix,
  workPrefix: init.workPrefix,
  allowLocalSources: true,
  openArchive: (source) => (source.kind === 'archive' ? new S3ArchiveStore(s3, source.bucket, source.prefix) : new FolderArchiveStore(source.path)),
};
const port = parentPort!;
port.on('message', (m: StepMessage) => {
  runBackfillStep(deps, m.event).then(
    (result) => port.postMessage({ id: m.id, ok: true, result } satisfies StepReply),
    (e: unknown) => port.postMessage({ id: m.id, ok: false, name: (e as Error).name ?? 'Error', message: (e as Error).message ?? String(e) } satisfies StepReply),
  );
});
