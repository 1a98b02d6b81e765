/**
 * The options of every CLI, defined once: the parser, `--help` and the option tables of docs/ all come from here
 * (test/bin/cli/commands.test.ts checks docs/ and each CLI's `--help` against these definitions).
 */
import type { CliDefinition, OptionDef } from './args';

/** The option of every CLI that checks its results for probable mistakes (bin/cli/run-checks.ts). */
const STRICT: OptionDef = { kind: 'flag', help: 'Exits 2 instead of 0 when the run drew a warning about a probably wrong result (event times that look like epoch seconds, most records rejected, every training row empty).' };

/** The stream archive as input, instead of a records file (bin/history/archive-source.ts, docs/history.md). */
const ARCHIVE_OPTIONS: Readonly<Record<string, OptionDef>> = {
  archive: { kind: 'string', value: 'LOCATION', help: 'Instead of a records file: the stream archive, a local folder in its S3 layout (npm start writes DIR/archive) or s3://bucket/prefix.' },
  from: { kind: 'string', value: 'T', help: 'With --archive: first arrival time read (epoch ms or ISO-8601, no offset: UTC); default the archive\'s start.' },
  to: { kind: 'string', value: 'T', help: 'With --archive: arrival time read up to, excluded (epoch ms or ISO-8601); default the archive\'s end.' },
};

/** A records file of flat events instead of the replay's envelope (bin/cli/input-format.ts, docs/replay.md). */
const FLAT_OPTIONS: Readonly<Record<string, OptionDef>> = {
  flat: { kind: 'flag', help: 'The records file holds flat events: each line is the payload itself (kept byte for byte as the record\'s data, all on one shard), its arrival time from --arrival-field.' },
  'arrival-field': { kind: 'string', value: 'NAME', help: 'With --flat: the event field holding the arrival time, read as the spec reads its timeField; default the timeField itself (arrival = event time).' },
};

export const REPLAY_CLI: CliDefinition = {
  command: 'npm run replay --',
  summary: 'Replays a file of recorded stream records through the window engine; writes final windows, rejected records and a summary.',
  forms: [['config', 'input!', 'flat', 'arrival-field', 'out', 'batch-size', 'strict'], ['config', 'archive!', 'from', 'to', 'out', 'batch-size', 'strict']],
  options: {
    config: { kind: 'string', required: true, value: 'SPEC.json', help: 'Pipeline spec file (docs/semantics.md §1).' },
    input: { kind: 'string', value: 'RECORDS.jsonl', help: 'Records, one JSON line each, in arrival order (docs/replay.md); or --archive.' },
    ...FLAT_OPTIONS,
    ...ARCHIVE_OPTIONS,
    out: { kind: 'string', required: true, value: 'DIR', help: 'Output folder, created if missing; its windows.jsonl, rejected.jsonl (and corrections.jsonl) are replaced.' },
    'batch-size': { kind: 'number', value: 'N', help: 'Records the engine takes at once, 1 to 65536; default 2000.' },
    strict: STRICT,
  },
};

export const SANDBOX_CLI: CliDefinition = {
  command: 'npm start --',
  summary: 'The pipeline on local emulators: the fraud story, or a recorded file through Kinesis, the consumer, DynamoDB and SQS.',
  forms: [
    ['follow', 'features-port', 'page-port', 'no-page', 'kinesis-emulator'],
    ['follow!', 'config!', 'features-port', 'page-port', 'no-page', 'kinesis-emulator'],
    ['config!', 'input!', 'flat', 'arrival-field', 'out!', 'labels', 'shards', 'parallelization-factor', 'reshard', 'chaos', 'seed', 'batch-size', 'page-port', 'no-page', 'kinesis-emulator', 'strict'],
  ],
  options: {
    follow: { kind: 'flag', help: 'Keep the pipeline running for a producer of your own, with the features endpoint on localhost, until Ctrl-C: after the story, or with --config your spec instead of the story.' },
    'features-port': { kind: 'number', value: 'PORT', help: 'With --follow: localhost port of the features endpoint; default any free port.' },
    'page-port': {
      kind: 'number',
      value: 'PORT',
      help: 'Localhost port of the live page of the run (the dashboard\'s panels from the metrics the handlers emit, each shard\'s watermark and lag, a feature lookup box), served while the run lasts, its URL printed on stderr; 1 to 65535, default any free port.',
    },
    'no-page': { kind: 'flag', help: 'Serve no live page.' },
    config: { kind: 'string', value: 'SPEC.json', help: 'Pipeline spec file: with --follow, run your spec instead of the story; in file mode (--config, --input and --out go together), the spec of the run.' },
    input: { kind: 'string', value: 'RECORDS.jsonl', help: 'File mode: records in the replay\'s input format.' },
    flat: { ...FLAT_OPTIONS.flat!, help: `File mode: ${FLAT_OPTIONS.flat!.help}` },
    'arrival-field': FLAT_OPTIONS['arrival-field']!,
    out: { kind: 'string', value: 'DIR', help: 'File mode: output folder, created if missing; windows.jsonl, rejected.jsonl and summary.json are replaced, and with a scoring section predictions.jsonl (and evaluation.jsonl with an evaluation section).' },
    labels: { kind: 'string', value: 'LABELS.jsonl', help: 'File mode, with the spec\'s evaluation section: label records (docs/evaluation.md), one per line, joined to the predictions after the records; the measures go to DIR/evaluation.jsonl.' },
    shards: { kind: 'number', value: 'N', help: 'File mode: shards of the stream, 1 to 64; default 1.' },
    'parallelization-factor': { kind: 'number', value: 'N', help: 'File mode: batches of one shard in flight at once, 1 to 10, one partition key\'s records in order (as Lambda\'s ParallelizationFactor); default 1.' },
    reshard: {
      kind: 'string',
      value: 'STEPS',
      help: 'File mode: split and merge shards mid-run, as an on-demand stream does: split@N or merge@N steps, comma-separated, each made after the N-th record is put (a split halves the open shard with the widest hash range, a merge joins the narrowest adjacent pair). Children are read after their parents, and start from their parents\' watermark (docs/semantics.md §3).',
    },
    chaos: { kind: 'number', value: 'P', help: 'File mode: fraction of invocations that fail part-way through their writes, 0 to 1; default 0.' },
    seed: { kind: 'number', value: 'S', help: 'File mode: seed of the fault injection, an integer; default 1.' },
    'batch-size': { kind: 'number', value: 'N', help: 'File mode: records per consumer invocation, 1 to 10000; default 500 (as deployed).' },
    'kinesis-emulator': { kind: 'string', value: 'NAME', help: 'Kinesis emulator: kinesalite (default) or kinesis-mock (for comparison).' },
    strict: { ...STRICT, help: `File mode: ${STRICT.help}` },
  },
};

export const BENCH_CLI: CliDefinition = {
  command: 'npm run bench --',
  summary: 'Prints throughput figures of the replay and the window engine on a generated workload, then of consumer batches on local emulators.',
  forms: [['records', 'keys', 'runs', 'spacing-ms', 'skip-emulators', 'emulator-records'], ['training', 'records', 'keys', 'labels', 'runs', 'spacing-ms'], ['records', 'keys', 'spacing-ms', 'write-input'], ['kinesis-put', 'kinesis-emulator', 'records', 'step'], ['steady-state', 'rate', 'minutes', 'batch-size', 'keys'], ['backfill', 'records', 'keys']],
  options: {
    records: { kind: 'number', value: 'N', help: 'Records in the workload; default 300000.' },
    keys: { kind: 'number', value: 'N', help: 'Distinct keys (Zipf-distributed); default 5000.' },
    runs: { kind: 'number', value: 'N', help: 'Runs per measurement, the best is kept; default 3.' },
    'spacing-ms': { kind: 'number', value: 'N', help: 'Mean event-time gap between events in ms; default 50 (20 events/s).' },
    'skip-emulators': { kind: 'flag', help: 'Leaves out the consumer section on local emulators.' },
    'emulator-records': { kind: 'number', value: 'N', help: 'Records per batch size in the emulator section; default 5000.' },
    training: { kind: 'flag', help: 'Only times training rows for --labels labels over the workload beside the replay of the same events, each in a process of its own, with peak memory.' },
    labels: { kind: 'number', value: 'N', help: 'With --training: labels; default 30000.' },
    'write-input': { kind: 'string', value: 'PATH', help: 'Only writes the bench\'s workload of --records records (any size, streamed, in arrival order) and its spec to PATH.spec.json.' },
    'kinesis-put': { kind: 'flag', help: 'Only measures the local Kinesis emulator: put time per --step records as the stream fills to --records (default 40000), then the read-back time.' },
    'kinesis-emulator': { kind: 'string', value: 'NAME', help: 'With --kinesis-put: kinesalite (default) or kinesis-mock.' },
    step: { kind: 'number', value: 'N', help: 'With --kinesis-put: records per step; default 5000.' },
    'steady-state': { kind: 'flag', help: 'Only runs the consumer on local emulators over --minutes of event time at --rate events/s (one shard, batches of --batch-size, --keys Zipf keys, default 2000) and prints write and read units per quarter beside their lower bounds.' },
    rate: { kind: 'number', value: 'N', help: 'With --steady-state: events per second of event time; default 50.' },
    minutes: { kind: 'number', value: 'N', help: 'With --steady-state: minutes of event time; default 20.' },
    'batch-size': { kind: 'number', value: 'N', help: 'With --steady-state: records per batch; default 100.' },
    backfill: { kind: 'flag', help: 'Only runs the local backfill state machine over --records records (default 1000000) at 1, 2 and 4 partitions beside one replay process, and prints wall times and records/s per worker.' },
  },
};

export const COST_CLI: CliDefinition = {
  command: 'npm run cost --',
  summary: 'Cost per million events at published list prices: of file runs (their summary.json usage), or the cost/freshness curve of the reference workload run on local emulators.',
  forms: [
    ['summary!', 'rates', 'serving-reads', 'serving-ms', 'target-utilization', 'min-capacity', 'flink-sink-units', 'json'],
    ['curve!', 'rates', 'records', 'keys', 'target-utilization', 'min-capacity', 'plot', 'doc', 'json'],
    ['backfill!', 'rates', 'partitions', 'worker-rates', 'json'],
  ],
  options: {
    summary: { kind: 'string', value: 'FILE[,FILE...]', help: 'File runs\' summary.json files (npm start -- --config ... --out DIR writes DIR/summary.json), comma-separated.' },
    rates: { kind: 'string', value: 'R[,R...]', help: 'Event rates per second, for the stream\'s hourly charges and the curve; default 10,100,1000.' },
    'serving-reads': { kind: 'number', value: 'R', help: 'With --summary: features endpoint reads per event (a model server reading one key per event: 1), priced by their requests; default 0.' },
    'serving-ms': { kind: 'number', value: 'MS', help: 'With --summary: billed Lambda duration of one features endpoint read, an assumption; default 20.' },
    'target-utilization': { kind: 'number', value: 'P', help: 'Provisioned tables: the utilization auto scaling tracks, percent (20-90), so capacity held = consumed units per second / P, rounded up; default 70 (the stack\'s).' },
    'min-capacity': { kind: 'number', value: 'N', help: 'Provisioned tables: the fewest capacity units auto scaling keeps per table, reads and writes; default 1 (the stack\'s).' },
    'flink-sink-units': { kind: 'number', value: 'W', help: 'With --summary: DynamoDB write units per event of the online store Flink writes (one write per changed key per second); default the run\'s own state-table write units per event, right for a run of one-second batches.' },
    curve: { kind: 'flag', help: 'Runs the reference workload at each rate and Lambda batching window (0, 1, 5, 30 s) through the local file run and prints cost against freshness.' },
    records: { kind: 'number', value: 'N', help: 'With --curve: records per run (at least one batch); default 3000.' },
    keys: { kind: 'number', value: 'N', help: 'With --curve: distinct keys of the workload (Zipf); default 5000.' },
    plot: { kind: 'string', value: 'FILE.svg', help: 'With --curve: writes the curve as an SVG line plot.' },
    doc: { kind: 'string', value: 'FILE', help: 'With --curve: replaces the cost section of FILE, e.g. docs/cost.md (between its cost:begin and cost:end markers), with the new figures.' },
    json: { kind: 'flag', help: 'Prints JSON instead of tables.' },
    backfill: { kind: 'number', value: 'N', help: 'Estimates the dollars and wall time of a backfill of N archived records on AWS (the stack\'s state machine), for the archive written at each of --rates.' },
    partitions: { kind: 'number', value: 'P', help: 'With --backfill: partition workers; default enough for each to finish in about 5 minutes.' },
    'worker-rates': { kind: 'string', value: 'SEG,PART', help: 'With --backfill: records/s of one worker planning a segment and running a partition; default the figures of npm run bench -- --backfill on this machine.' },
  },
};

export const FEATURES_CLI: CliDefinition = {
  command: 'npm run features --',
  summary: "Reads keys' features as of a time from the key items in DynamoDB (the sandbox's emulator or AWS) and prints them as a table or JSON.",
  forms: [['key', 'at', 'feature', 'json', 'config', 'table', 'consistent']],
  options: {
    key: { kind: 'string', required: true, repeat: true, value: 'K', help: 'Entity key; give --key once per key, up to 100.' },
    at: { kind: 'string', value: 'T', help: 'Time read as of: epoch milliseconds or ISO-8601 (no offset: UTC); default now.' },
    feature: { kind: 'string', repeat: true, value: 'NAME', help: 'Feature to read, once per feature; default every feature of the spec.' },
    json: { kind: 'flag', help: 'Prints the JSON the client library returns instead of a table.' },
    config: { kind: 'string', value: 'SPEC.json', help: 'Pipeline spec file; default bin/specs/fraud.json (the sandbox story\'s).' },
    table: { kind: 'string', value: 'NAME', help: 'Table holding the key items: the StateTableName stack output on AWS; default sandbox-state (the sandbox story\'s).' },
    consistent: { kind: 'flag', help: 'Strongly consistent reads (twice the read units).' },
  },
};

export const TRAINING_SET_CLI: CliDefinition = {
  command: 'npm run training-set --',
  summary: "Training rows: each label's features as serving would have answered at the label's time, from the events that had arrived by then.",
  forms: [['config', 'events!', 'flat', 'arrival-field', 'labels', 'out', 'as', 'strict'], ['config', 'archive!', 'from', 'to', 'labels', 'out', 'as', 'strict']],
  options: {
    config: { kind: 'string', required: true, value: 'SPEC.json', help: 'Pipeline spec file (docs/semantics.md §1).' },
    events: { kind: 'string', value: 'EVENTS.jsonl', help: 'Events in the replay\'s input format, in arrival order, each with its arrivalTime; or --archive.' },
    ...FLAT_OPTIONS,
    ...ARCHIVE_OPTIONS,
    labels: { kind: 'string', required: true, value: 'LABELS.jsonl', help: 'Labels, one JSON object per line with "key" and "time" (epoch ms or ISO-8601), in any order; other fields are passed through.' },
    out: { kind: 'string', required: true, value: 'DIR', help: 'Output folder, created if missing; its training.jsonl, training.csv and skipped-labels.jsonl are replaced.' },
    as: { kind: 'string', value: 'MODE', help: 'served (default): values as of each label\'s time; final (analysis only): the final values of the same windows, from every record.' },
    strict: STRICT,
  },
};

export const CONSISTENCY_CLI: CliDefinition = {
  command: 'npm run consistency --',
  summary: 'Online/offline consistency: recomputes each served row (the features client\'s served log) from the events with the training rows\' code and reports, per feature, the share of mismatches and the largest difference; exits 2 on any mismatch, feature not compared or row served under another spec.',
  forms: [['config', 'events!', 'flat', 'arrival-field', 'served', 'tolerance'], ['config', 'archive!', 'from', 'to', 'served', 'tolerance']],
  options: {
    config: { kind: 'string', required: true, value: 'SPEC.json', help: 'Pipeline spec file (docs/semantics.md §1).' },
    events: { kind: 'string', value: 'EVENTS.jsonl', help: 'Events in the replay\'s input format, in arrival order, each with its arrivalTime; or --archive.' },
    ...FLAT_OPTIONS,
    ...ARCHIVE_OPTIONS,
    served: { kind: 'string', required: true, value: 'SERVED.jsonl', help: 'Served rows, one JSON object per line with "key", "at" and "features" (as the client\'s servedLog writes them).' },
    tolerance: { kind: 'number', value: 'REL', help: 'Relative tolerance: values within REL of the larger magnitude agree (sums may round differently). Default 1e-9.' },
  },
};

export const BACKFILL_CLI: CliDefinition = {
  command: 'npm run backfill --',
  summary: "Runs the stack's backfill state machine locally (an ASL interpreter, its Lambda tasks on worker threads, S3 in the emulator): the replay's outputs, computed by P partition workers.",
  forms: [['config', 'input!', 'flat', 'arrival-field', 'partitions', 'out', 'workers', 'segment-mb'], ['config', 'archive!', 'from', 'to', 'partitions', 'out', 'workers']],
  options: {
    config: { kind: 'string', required: true, value: 'SPEC.json', help: 'Pipeline spec file (docs/semantics.md §1).' },
    input: { kind: 'string', value: 'RECORDS.jsonl', help: 'Records in the replay\'s input format (docs/replay.md); or --archive.' },
    ...FLAT_OPTIONS,
    ...ARCHIVE_OPTIONS,
    partitions: { kind: 'number', value: 'P', help: 'Partition workers (keys are split among them by hash), 1 to 10000; default 4.' },
    out: { kind: 'string', required: true, value: 'DIR', help: 'Output folder, created if missing: windows.jsonl, rejected.jsonl (corrections.jsonl, firings.jsonl), summary.json and backfill.json are replaced.' },
    workers: { kind: 'number', value: 'N', help: 'Worker threads running tasks at once; default the number of CPUs.' },
    'segment-mb': { kind: 'number', value: 'MB', help: 'With --input: the file is planned in segments of about MB megabytes each, at most 256; default 64.' },
  },
};

export const SCHEMA_CLI: CliDefinition = {
  command: 'npm run schema --',
  summary: 'Writes the pipeline spec\'s JSON Schema, built from the validator\'s own field lists and bounds, to bin/specs/pipeline-spec.schema.json.',
  forms: [['check']],
  options: {
    check: { kind: 'flag', help: 'Writes nothing; exits 1 if the file differs from the schema the validator makes.' },
  },
};

export const EVALUATION_REPORT_CLI: CliDefinition = {
  command: 'npm run evaluation-report --',
  summary: 'One self-contained HTML page of a file run\'s evaluation windows: precision and recall with intervals, AUC, calibration, estimated against realized, PSI per feature, and a table of every figure.',
  forms: [['evaluation!', 'out!']],
  options: {
    evaluation: { kind: 'string', required: true, value: 'FILE', help: 'A file run\'s DIR/evaluation.jsonl (npm start -- --config SPEC --input FILE --out DIR --labels LABELS writes it).' },
    out: { kind: 'string', required: true, value: 'FILE.html', help: 'The page to write (replaced).' },
  },
};

export const PUT_CLI: CliDefinition = {
  command: 'npm run put --',
  summary: 'Puts a file of events onto the stream of the running sandbox (npm start -- --follow), in file order, partition key the spec\'s keyField; prints a JSON summary.',
  forms: [['config', 'input', 'flat', 'stream', 'endpoint', 'dry-run']],
  options: {
    config: { kind: 'string', required: true, value: 'SPEC.json', help: 'Pipeline spec file: its keyField is each record\'s partition key.' },
    input: { kind: 'string', required: true, value: 'EVENTS.jsonl', help: 'Events in the replay\'s input format (their arrivalTime and shard are not sent: the stream stamps arrival and picks the shard), or flat with --flat. Every line is checked before the first put.' },
    flat: { kind: 'flag', help: 'Each line of --input is the event itself, put byte for byte.' },
    stream: { kind: 'string', value: 'NAME', help: 'Stream to put to; default sandbox-events (the one npm start -- --follow creates).' },
    endpoint: { kind: 'string', value: 'URL', help: 'Kinesis endpoint; default AWS_ENDPOINT_URL_KINESIS (or AWS_ENDPOINT_URL), which npm start -- --follow prints as an export line.' },
    'dry-run': { kind: 'flag', help: 'Checks every line and prints the events, distinct partition keys and the first record as it would be put; puts nothing and needs no sandbox.' },
  },
};

export const REDRIVE_CLI: CliDefinition = {
  command: 'npm run redrive --',
  summary: 'Sends the records behind dead letters back onto the stream after a fix, each record once, byte for byte; a dry run unless --apply, and a dead letter is deleted only after its record is put.',
  forms: [['config', 'queue', 'stream', 'reason', 'feature', 'limit', 'apply']],
  options: {
    config: { kind: 'string', required: true, value: 'SPEC.json', help: 'The fixed pipeline spec: its keyField is each record\'s partition key (as npm run put); without an idField a record put twice is counted twice (a warning says so).' },
    queue: { kind: 'string', value: 'URL', help: 'Dead-letter queue URL: the stack\'s DeadLetterQueueUrl output on AWS; default the sandbox\'s sandbox-dead-letters.fifo at AWS_ENDPOINT_URL_SQS (npm start -- --follow prints the export lines).' },
    stream: { kind: 'string', value: 'NAME', help: 'Stream to put to: the stack\'s StreamName output on AWS; default sandbox-events (the one npm start -- --follow creates).' },
    reason: { kind: 'string', value: 'R[,R...]', help: 'Reasons selected, comma-separated: invalid, future, late; default all three (late records are judged late again unless latePolicy is update: a warning says what they will do).' },
    feature: { kind: 'string', repeat: true, value: 'NAME', help: 'Only late dead letters of this feature, once per feature (invalid and future ones name no feature and stay selected by --reason).' },
    limit: { kind: 'number', value: 'N', help: 'Puts at most N records, then stops; the rest stay in the queue.' },
    apply: { kind: 'flag', help: 'Puts the selected records (PutRecords, 500 a call) and then deletes their dead letters; dead letters not selected go to the back of their shard. Without it, a dry run: counts by reason and feature and samples of the oldest dead letters of each shard, changing nothing.' },
  },
};

export const CLIS = {
  replay: REPLAY_CLI,
  sandbox: SANDBOX_CLI,
  bench: BENCH_CLI,
  cost: COST_CLI,
  features: FEATURES_CLI,
  'training-set': TRAINING_SET_CLI,
  consistency: CONSISTENCY_CLI,
  schema: SCHEMA_CLI,
  'evaluation-report': EVALUATION_REPORT_CLI,
  backfill: BACKFILL_CLI,
  put: PUT_CLI,
  redrive: REDRIVE_CLI,
} as const;
