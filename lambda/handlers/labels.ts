/**
 * Entry of the labels consumer (the evaluation pattern), bundled by lib/labels-consumer.ts. The join itself is
 * not in this revision: every batch fails, so the event source mapping retries it, bisects it and finally sends
 * it to the on-failure queue (labels stay in the stream for its retention), and the LabelsConsumerErrors alarm fires.
 */
import type { KinesisStreamEvent, KinesisStreamBatchResponse } from 'aws-lambda';

export class LabelsNotJoinedError extends Error {
  public constructor(records: number) {
    super(`the labels join is not part of this build; ${records} label records left unjoined for a retry`);
    this.name = 'LabelsNotJoinedError';
  }
}

export function handler(event: KinesisStreamEvent): Promise<KinesisStreamBatchResponse> {
  return Promise.reject(new LabelsNotJoinedError(event.Records.length));
}
