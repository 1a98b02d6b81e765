/**
 * Kinesis event records → engine input: payload bytes, shard id (from `eventID`, "shardId-…:sequence"), sequence
 * number and arrival time (`approximateArrivalTimestamp`, epoch seconds).
 */
import type { KinesisStreamRecord } from 'aws-lambda';
import type { InputRecord } from '../core/engine';

/** Arrival time of a record (epoch ms) from another clock than Kinesis' (the sandbox replays a file's own). */
export type ArrivalClock = (shard: string, seq: string) => number | undefined;

export function toInputRecord(r: KinesisStreamRecord, clock?: ArrivalClock): InputRecord {
  const colon = r.eventID.lastIndexOf(':');
  const shard = colon > 0 ? r.eventID.slice(0, colon) : r.eventID;
  const seq = r.kinesis.sequenceNumber;
  return {
    data: Buffer.from(r.kinesis.data, 'base64'),
    shard,
    seq,
    // Kinesis gives seconds with millisecond precision; a recorded clock is taken as is, fractions included.
    arrivalTime: clock?.(shard, seq) ?? Math.round(r.kinesis.approximateArrivalTimestamp * 1000),
  };
}
