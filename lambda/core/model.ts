/**
 * Models that score on served features (the scoring pattern): a small interface, features in and a score out, and
 * one built-in kind, a logistic model read from JSON — weights per feature, a bias and a decision threshold. A
 * model document is checked against the pipeline spec before anything runs, each problem naming its field, as
 * the spec itself is. A model of your own implements `Model` (see docs/deploy.md).
 */
import type { PipelineSpec } from './spec';

export interface Model {
  /** Written with every prediction, so an evaluation can tell model versions apart. */
  readonly version: string;
  /** The served features the model reads. */
  readonly features: readonly string[];
  /** Scores at or above it are positive (flagged). */
  readonly threshold: number;
  /** The score of one key's served values (null: the feature had no value at that time). */
  score(values: Readonly<Record<string, number | null>>): number;
}

/** A model document that breaks a rule; `problems` has one message per bad field, each naming its path. */
export class ModelError extends Error {
  public constructor(public readonly problems: readonly string[]) {
    super(`invalid model:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ModelError';
  }
}

export interface LogisticModelDoc {
  readonly kind: 'logistic';
  readonly version: string;
  readonly bias: number;
  readonly weights: Readonly<Record<string, number>>;
  readonly threshold: number;
}

const FIELDS = ['kind', 'version', 'bias', 'weights', 'threshold'];

/** A logistic model: score = 1 / (1 + e^-(bias + Σ weight × value)), a feature without a value counting 0. */
export class LogisticModel implements Model {
  public readonly version: string;
  public readonly features: readonly string[];
  public readonly threshold: number;
  private readonly bias: number;
  private readonly weights: ReadonlyArray<readonly [string, number]>;

  public constructor(doc: LogisticModelDoc) {
    this.version = doc.version;
    this.bias = doc.bias;
    this.threshold = doc.threshold;
    this.weights = Object.entries(doc.weights);
    this.features = this.weights.map(([f]) => f);
  }

  public score(values: Readonly<Record<string, number | null>>): number {
    let z = this.bias;
    for (const [f, w] of this.weights) z += w * (values[f] ?? 0);
    return 1 / (1 + Math.exp(-z));
  }
}

const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/**
 * Checks a model document (parsed JSON) against the spec and builds the model.
 * @throws ModelError naming every bad field (`model.weights.<feature>`, `model.threshold`, …)
 */
export function parseModel(doc: unknown, spec: PipelineSpec): Model {
  const problems: string[] = [];
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new ModelError(['model must be a JSON object']);
  const d = doc as Record<string, unknown>;
  for (const k of Object.keys(d)) if (!FIELDS.includes(k)) problems.push(`model.${k} is not a model field (allowed: ${FIELDS.join(', ')})`);
  if (d.kind !== 'logistic') problems.push(`model.kind must be "logistic" (the built-in kind), got ${JSON.stringify(d.kind)}`);
  // The version is part of each prediction id (`<version>:<eventId>`), so it holds no colon.
  if (typeof d.version !== 'string' || !/^[A-Za-z0-9._-]{1,64}$/.test(d.version)) problems.push(`model.version must be 1-64 letters, digits, ".", "_" or "-", got ${JSON.stringify(d.version)}`);
  if (!finite(d.bias)) problems.push(`model.bias must be a finite number, got ${JSON.stringify(d.bias)}`);
  if (!finite(d.threshold) || d.threshold <= 0 || d.threshold >= 1) problems.push(`model.threshold must be a number between 0 and 1 (a logistic score), got ${JSON.stringify(d.threshold)}`);
  const names = new Set(spec.features.map((f) => f.name));
  const weights = d.weights;
  if (typeof weights !== 'object' || weights === null || Array.isArray(weights) || Object.keys(weights).length === 0) {
    problems.push('model.weights must be an object with at least one feature name and its weight');
  } else {
    for (const [f, w] of Object.entries(weights as Record<string, unknown>)) {
      if (!names.has(f)) problems.push(`model.weights.${f} is not a feature of the pipeline spec (it has ${[...names].join(', ')})`);
      if (!finite(w)) problems.push(`model.weights.${f} must be a finite number, got ${JSON.stringify(w)}`);
    }
  }
  if (problems.length > 0) throw new ModelError(problems);
  return new LogisticModel(d as unknown as LogisticModelDoc);
}
