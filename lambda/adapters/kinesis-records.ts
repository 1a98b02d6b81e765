/**
 * Kinesis event records → engine input: payload bytes, shard id (from `eventID`, "shardId-…:sequence"), sequence
 * number and arrival time (`approximateArrivalTimestamp`, epoch seconds).
 */
import type { KinesisStreamRecord } from 'aws-lambda';
import { deaggregate } from 'aws-kinesis-agg';
import { ARCHIVE_MAX_TIME, type ArchivedRecord, type ShardLineage, lineagePreset } from '../core/archive';
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

/** First bytes of a record aggregated by the Kinesis Producer Library. */
const KPL_MAGIC = Buffer.from('f3899ac2', 'hex');

/**
 * A KPL sub-record's sequence number for the engine: its record's sequence number, a dot and the sub-sequence
 * number in ten digits, so it orders after its record's predecessors and before its successors (`compareSeq`).
 */
export function subRecordSeq(seq: string, sub: number): string {
  return `${seq}.${String(sub).padStart(10, '0')}`;
}

/** One delivered record as the engine takes it, with what the archive keeps besides. */
export interface DeliveredRecord {
  readonly input: InputRecord;
  readonly archived: ArchivedRecord;
}

/**
 * The engine inputs of one Kinesis record: itself, or when a KPL producer aggregated several user records into it,
 * each of them with its sub-sequence number, judged on its own. An aggregated record that does not decode (bad
 * checksum or protobuf) is passed on whole, and so is judged invalid.
 */
export function toInputRecords(r: KinesisStreamRecord, clock?: ArrivalClock): InputRecord[] {
  return toDeliveredRecords(r, clock).map((d) => d.input);
}

/** As toInputRecords, each with its archive record (partition key, sequence and sub-sequence number, arrival). */
export function toDeliveredRecords(r: KinesisStreamRecord, clock?: ArrivalClock): DeliveredRecord[] {
  const whole = toInputRecord(r, clock);
  const bytes = whole.data as Buffer;
  // A recorded clock may know no usable arrival (+∞ or a negative time: a local file line without one, or with a
  // bad one); such a record is archived as of unknown arrival rather than failing its batch.
  const t = whole.arrivalTime;
  const arrivalTime = t !== undefined && Number.isFinite(t) && t >= 0 && t < ARCHIVE_MAX_TIME ? t : null;
  const plain = (): DeliveredRecord[] => [{ input: whole, archived: { shard: whole.shard, seq: whole.seq, partitionKey: r.kinesis.partitionKey, arrivalTime, data: bytes } }];
  if (bytes.length < KPL_MAGIC.length + 16 || !bytes.subarray(0, KPL_MAGIC.length).equals(KPL_MAGIC)) return plain();
  const subs: DeliveredRecord[] = [];
  let failed = false;
  deaggregate(
    r.kinesis,
    true,
    (err, u) => {
      if (err || !u || u.subSequenceNumber === undefined) failed = true;
      else {
        const data = Buffer.from(u.data, 'base64');
        subs.push({
          input: { ...whole, data, seq: subRecordSeq(whole.seq, u.subSequenceNumber) },
          archived: { shard: whole.shard, seq: whole.seq, sub: u.subSequenceNumber, partitionKey: u.partitionKey ?? r.kinesis.partitionKey, arrivalTime, data },
        });
      }
    },
    (err) => {
      if (err) failed = true;
    },
  );
  return failed || subs.length === 0 ? plain() : subs;
}

/**
 * Marks the first delivered record of each shard made by a split or merge with its lineage: the archive keeps it,
 * and the engine raises the shard's watermark to its parents' before judging the record. Every delivery marks its
 * first record of such a shard, so every copy of the shard's very first record carries it (later marks change
 * nothing: the shard's maximum is already at least its parents').
 */
export function withLineage(delivered: readonly DeliveredRecord[], lineage: ReadonlyMap<string, ShardLineage>): DeliveredRecord[] {
  if (lineage.size === 0) return [...delivered];
  const marked = new Set<string>();
  return delivered.map((d) => {
    const l = lineage.get(d.input.shard);
    if (l === undefined || marked.has(d.input.shard)) return d;
    marked.add(d.input.shard);
    return { input: { ...d.input, ...lineagePreset({ lineage: l }) }, archived: { ...d.archived, lineage: l } };
  });
}
