/**
 * A JSON Schema (draft-07) of the pipeline spec, built from the validator's own definitions (field lists, enums,
 * bounds), so editors can check and complete spec files. The validator in spec.ts stays the authority: it also
 * checks what a schema cannot say (unique names, slide ≤ size, what a key's state item can hold).
 * `npm run schema` writes it to bin/specs/pipeline-spec.schema.json; a test keeps that file equal to this.
 */
import { AGGREGATES, EVALUATION_DEFAULTS, LATE_POLICIES, MAX_DURATION_MS, SPEC_FIELDS, TIME_UNITS, UNLABELED_POLICIES } from './spec';

type Schema = Record<string, unknown>;

const ms = (description: string, minimum = 1): Schema => ({ type: 'integer', minimum, maximum: MAX_DURATION_MS, description });
const name = (description: string): Schema => ({ type: 'string', pattern: '\\S', description });
const fraction = (description: string): Schema => ({ type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 1, description });

function object(fields: readonly string[], properties: Record<string, Schema>, required: readonly string[], description?: string): Schema {
  // Every field listed for validation has a schema, and no other: the two cannot drift apart.
  const missing = fields.filter((f) => !(f in properties));
  const extra = Object.keys(properties).filter((f) => !fields.includes(f));
  if (missing.length > 0 || extra.length > 0) throw new Error(`schema and validator disagree: missing ${missing.join(', ')}; extra ${extra.join(', ')}`);
  return { type: 'object', ...(description ? { description } : {}), properties, required: [...required], additionalProperties: false };
}

const window = (type: string, fields: readonly string[], properties: Record<string, Schema>, description: string): Schema =>
  object(fields, { type: { const: type }, ...properties }, fields, description);

export function pipelineSpecSchema(): Schema {
  const trigger = object(
    SPEC_FIELDS.trigger,
    {
      count: { type: 'integer', minimum: 1, description: 'Fire after every N records the key applies.' },
      everyMs: ms('Fire at the first multiple of this the shard watermark reaches after a record was applied.'),
      purge: { type: 'boolean', default: false, description: 'Empty the window after each firing.' },
    },
    [],
    'When a global window fires: "count", "everyMs" or both.',
  );
  const windowSchema: Schema = {
    oneOf: [
      window('tumbling', SPEC_FIELDS.tumbling, { sizeMs: ms('Window size.') }, 'Epoch-aligned windows [k·size, (k+1)·size).'),
      window('sliding', SPEC_FIELDS.sliding, { sizeMs: ms('Window size.'), slideMs: ms('Window start every slideMs (at most sizeMs).') }, 'Windows [k·slide, k·slide + size).'),
      window('session', SPEC_FIELDS.session, { gapMs: ms('A record at t opens [t, t + gapMs) and merges with the sessions it overlaps.') }, 'Session windows.'),
      window('global', SPEC_FIELDS.global, { trigger: { ...trigger, anyOf: [{ required: ['count'] }, { required: ['everyMs'] }] } }, 'One window per key for all time, fired by its trigger.'),
    ],
  };
  const feature: Schema = {
    ...object(
      SPEC_FIELDS.feature,
      {
        name: name('Unique feature name.'),
        window: windowSchema,
        aggregate: { enum: [...AGGREGATES], description: 'What the window computes.' },
        field: name('Record field aggregated (all aggregates but count need it).'),
        percentile: fraction('percentile only: the rank read, e.g. 0.95.'),
        relativeAccuracy: { ...fraction('percentile only: relative error of the sketch.'), default: 0.01 },
        maxStalenessMs: ms('Serving: a value whose key state was written longer than this before the request time has status "stale" (optional).'),
      },
      ['name', 'window', 'aggregate'],
    ),
    allOf: [
      { if: { properties: { aggregate: { not: { const: 'count' } } } }, then: { required: ['field'] } },
      { if: { properties: { aggregate: { const: 'percentile' } } }, then: { required: ['percentile'] }, else: { not: { anyOf: [{ required: ['percentile'] }, { required: ['relativeAccuracy'] }] } } },
    ],
  };
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: 'pipeline-spec.schema.json',
    title: 'Event-time feature pipeline spec',
    ...object(
      SPEC_FIELDS.spec,
      {
        $schema: { type: 'string', description: 'Path or URL of this schema (for editors; not read).' },
        source: object(
          SPEC_FIELDS.source,
          {
            keyField: name('Record field holding the entity key (a non-empty string or a finite number).'),
            timeField: name('Record field holding the event time (epoch ms or ISO-8601).'),
            timeUnit: { enum: [...TIME_UNITS], default: 'ms', description: 'What a number in timeField means: epoch milliseconds, epoch seconds, or nothing (ISO-8601 strings only).' },
            idField: name('Producer event id, to skip producer retries (optional).'),
          },
          ['keyField', 'timeField'],
        ),
        watermark: object(
          SPEC_FIELDS.watermark,
          {
            allowedLatenessMs: ms('Watermark = highest event time seen on the shard minus this.', 0),
            maxFutureSkewMs: ms('Records further ahead of their arrival time are rejected as future (optional).', 0),
          },
          ['allowedLatenessMs'],
        ),
        latePolicy: { enum: [...LATE_POLICIES], default: 'dlq', description: 'What happens to late records.' },
        correctionHorizonMs: ms('latePolicy "update" only: how far behind the watermark a final window can still be corrected (default: one hour, or 500 slides of the finest tumbling or sliding feature if shorter).', 0),
        features: { type: 'array', minItems: 1, items: feature },
        scoring: object(SPEC_FIELDS.scoring, { model: name('Model document (JSON), relative to this spec file: kind "logistic", version, bias, weights per feature, threshold.') }, ['model'], 'Score each applied record with a model.'),
        evaluation: object(
          SPEC_FIELDS.evaluation,
          {
            windowMs: { ...ms('Tumbling evaluation windows over the predictions\' event time.'), default: EVALUATION_DEFAULTS.windowMs },
            labelWindowMs: ms('A label later than this after its prediction is late; a window is final this long after its end.'),
            unlabeled: { enum: [...UNLABELED_POLICIES], default: EVALUATION_DEFAULTS.unlabeled, description: 'What an unlabeled prediction counts as once its label window passed.' },
            minPrecision: { type: 'number', minimum: 0, maximum: 1, default: EVALUATION_DEFAULTS.minPrecision, description: 'Alarm below this precision.' },
            minRecall: { type: 'number', minimum: 0, maximum: 1, default: EVALUATION_DEFAULTS.minRecall, description: 'Alarm below this recall.' },
            maxPsi: { type: 'number', minimum: 0, maximum: 100, default: EVALUATION_DEFAULTS.maxPsi, description: 'Alarm above this population stability index.' },
            maxFeaturePsi: { type: 'number', minimum: 0, maximum: 100, default: EVALUATION_DEFAULTS.maxFeaturePsi, description: 'Alarm when any one feature\'s PSI against the reference window is above this.' },
            maxFeatureEmptyShare: { type: 'number', minimum: 0, maximum: 1, default: EVALUATION_DEFAULTS.maxFeatureEmptyShare, description: 'Alarm when more than this share of a window\'s predictions read any one feature with no value.' },
            minEstimatedPrecision: { type: 'number', minimum: 0, maximum: 1, description: 'Alarm when a window\'s precision estimated before labels is below this; no alarm when unset.' },
            minEstimatedRocAuc: { type: 'number', minimum: 0, maximum: 1, description: 'Alarm when a window\'s ROC AUC estimated before labels (calibrated on final windows) is below this; no alarm when unset.' },
            referenceWindowStart: { type: 'integer', minimum: 0, description: 'Start of the reference window for drift (epoch ms); default: the first window that closes.' },
          },
          ['labelWindowMs'],
          'Join predictions with labels arriving later; needs scoring.',
        ),
      },
      ['source', 'watermark', 'features'],
    ),
  };
}
