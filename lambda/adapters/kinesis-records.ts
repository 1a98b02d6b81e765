/**
 * Kinesis event records → engine input: payload bytes, shard id (from `eventID`, "shardId-…:sequence"), sequence
 * number and arrival time (`approximateArrivalTimestamp`, epoch seconds).
 */
import type { KinesisStreamRecord } from 'aws-lambda';
import type { InputRecord } from '../core/engine';

export function toInputRecord(r: KinesisStreamRecord): InputRecord {
  const colon = r.eventID.lastIndexOf(':');
  const shard = colon > 0 ? r.eventID.slice(0, colon) : r.eventID;
  return {
    data: Buffer.from(r.kinesis.data, 'base64'),
    shard,
    seq: r.kinesis.sequenceNumber,
    arrivalTime: Math.round(r.kinesis.approximateArrivalTimestamp * 1000),
  };
}
