/**
 * Recorded arrival times for records the sandbox puts, looked up by (shard, sequence number) when the consumer is
 * invoked. The sequence number is only known once PutRecords answers, but the event source mapping may already be
 * reading the records: an invocation that meets a record of a put still in flight fails and is retried by the
 * mapping a moment later (at-least-once delivery makes that harmless), instead of judging the record against the
 * wrong clock.
 */
import type { PutResult } from '../local/pipeline';

export class ArrivalNotYetKnownError extends Error {
  public constructor(shard: string, seq: string) {
    super(`arrival time of ${shard}/${seq} not known yet (its put is still in flight); the batch will be retried`);
    this.name = 'ArrivalNotYetKnownError';
  }
}

/** Arrival used for a line without `arrivalTime`: never "ahead of arrival", so no future check, as in the replay. */
export const NO_ARRIVAL_CHECK = Number.POSITIVE_INFINITY;

export class ArrivalLedger {
  /** Invocations refused because a put was still in flight. */
  public waits = 0;
  private readonly arrivals = new Map<string, number>();
  private inFlight = 0;

  /** Runs a put, holding back invocations that meet its records until their arrival times are recorded. */
  public async put(arrivalTimes: ReadonlyArray<number | undefined>, put: () => Promise<PutResult[]>): Promise<PutResult[]> {
    this.inFlight++;
    try {
      const results = await put();
      results.forEach((r, i) => this.arrivals.set(`${r.shard}\u0000${r.seq}`, arrivalTimes[i] ?? NO_ARRIVAL_CHECK));
      return results;
    } finally {
      this.inFlight--;
    }
  }

  /** The pipeline's arrivalClock: recorded arrival, or undefined (Kinesis' own clock) for records put by others. */
  public readonly clock = (shard: string, seq: string): number | undefined => {
    const at = this.arrivals.get(`${shard}\u0000${seq}`);
    if (at !== undefined) return at;
    if (this.inFlight > 0) {
      this.waits++;
      throw new ArrivalNotYetKnownError(shard, seq);
    }
    return undefined;
  };
}
