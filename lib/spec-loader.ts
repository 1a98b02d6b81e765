import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { type Model, ModelError, parseModel } from '../lambda/core/model';
import { type PipelineSpec, parseSpecJson } from '../lambda/core/spec';

/** Spec used when no `-c spec=<path>` is given, relative to the project root. */
export const DEFAULT_SPEC_PATH = 'bin/specs/fraud.json';

/** Lambda's limit on a function's environment: 4 KB for all variable names and values together. */
export const LAMBDA_ENVIRONMENT_BYTES = 4096;

/**
 * Largest minified spec, together with the minified model document when the spec has a scoring section. The rest
 * of the consumer's 4 KB goes to the other variables, whose table names, bucket name and queue URL are only known
 * at deploy time (test/lib/environment-budget.test.ts bounds them at their longest).
 */
export const MAX_SPEC_BYTES = 3072;

/**
 * What the scoring variables take besides the model document: their three names (59 bytes), the predictions
 * table's name and the predictions stream's name at the longest DynamoDB and Kinesis allow (255 and 128).
 */
export const SCORING_ENV_RESERVE_BYTES = 59 + 255 + 128;

/** Bytes the minified spec and model document may take together in the consumer's environment. */
export function documentBudgetBytes(spec: Pick<PipelineSpec, 'scoring'>): number {
  return spec.scoring === undefined ? MAX_SPEC_BYTES : MAX_SPEC_BYTES - SCORING_ENV_RESERVE_BYTES;
}

/** The spec file or its model file could not be read, or the validated documents do not fit where they are shipped. */
export class SpecFileError extends Error {
  public constructor(message: string) {
    super(message);
    this.name = 'SpecFileError';
  }
}

/** A model document that breaks a rule, with the file it came from in the message (still a ModelError, same problems). */
export class ModelFileError extends ModelError {
  public constructor(
    public readonly file: string,
    problems: readonly string[],
  ) {
    super(problems);
    this.message = `model ${file}: ${this.message}`;
  }
}

export interface LoadedSpec {
  /** The validated spec, defaults applied. */
  readonly spec: PipelineSpec;
  /** The validated spec as minified JSON: what the consumer receives in PIPELINE_SPEC. */
  readonly json: string;
  /** With a scoring section: the model built from its document. */
  readonly model?: Model;
  /** With a scoring section: the model document as minified JSON, what the consumer receives in MODEL_DOCUMENT. */
  readonly modelJson?: string;
}

/** Text of the spec file and, when the spec has a scoring section, of the model file it names. */
export interface SpecFiles {
  readonly specJson: string;
  /** Path of the model file as resolved (relative to the spec file's folder); absent without a scoring section. */
  readonly modelPath?: string;
  readonly modelJson?: string;
}

/** Reads a spec file; a relative path is resolved against `cwd` (the directory `cdk` runs in). */
export function readSpecFile(specPath: string, cwd: string = process.cwd()): string {
  const full = path.resolve(cwd, specPath);
  try {
    return readFileSync(full, 'utf8');
  } catch (e) {
    throw new SpecFileError(`spec file ${specPath} cannot be read: ${(e as Error).message}`);
  }
}

/** Where the model file of a spec is: `scoring.model` is relative to the spec file's folder. */
export function modelPathOf(specPath: string, spec: Pick<PipelineSpec, 'scoring'>): string | undefined {
  if (spec.scoring === undefined) return undefined;
  return path.join(path.dirname(specPath), spec.scoring.model);
}

/**
 * Reads a spec file and, with a scoring section, the model file it names, and checks both as the stack will: the
 * errors name the file (SpecError from the spec parser for a bad spec; SpecFileError for an unreadable file or a
 * model that is not JSON; ModelFileError listing each bad field of the model).
 */
export function readSpecFiles(specPath: string, cwd: string = process.cwd()): SpecFiles {
  const specJson = readSpecFile(specPath, cwd);
  const spec = parseSpecJson(specJson);
  const modelPath = modelPathOf(specPath, spec);
  if (modelPath === undefined) return { specJson };
  let modelJson: string;
  try {
    modelJson = readFileSync(path.resolve(cwd, modelPath), 'utf8');
  } catch (e) {
    throw new SpecFileError(`model file ${modelPath} (scoring.model of spec ${specPath}) cannot be read: ${(e as Error).message}`);
  }
  parseModelText(modelJson, spec, modelPath);
  return { specJson, modelPath, modelJson };
}

/**
 * Parses and checks a model document against the spec.
 * @param source names the document in errors: the model file, or the prop it came in
 * @throws SpecFileError if the text is not JSON; ModelFileError naming each bad field
 */
export function parseModelText(text: string, spec: PipelineSpec, source: string): { model: Model; json: string } {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new SpecFileError(`model ${source} is not valid JSON: ${(e as Error).message}`);
  }
  try {
    return { model: parseModel(doc, spec), json: JSON.stringify(doc) };
  } catch (e) {
    if (e instanceof ModelError) throw new ModelFileError(source, e.problems);
    throw e;
  }
}

/**
 * Validates spec text (and the model document of its scoring section) with the same parsers the consumer uses, so
 * a spec or model the consumer would refuse never deploys.
 * @param modelText the model document; required exactly when the spec has a scoring section (the caller checks)
 * @throws SpecError (from the engine) naming each bad field; ModelFileError for a bad model; SpecFileError if the
 *   documents are too large to ship.
 */
export function loadSpec(text: string, modelText?: string, modelSource = 'document'): LoadedSpec {
  const spec = parseSpecJson(text);
  const json = JSON.stringify(spec);
  const parsed = modelText === undefined ? undefined : parseModelText(modelText, spec, modelSource);
  const specBytes = Buffer.byteLength(json, 'utf8');
  const modelBytes = parsed === undefined ? 0 : Buffer.byteLength(parsed.json, 'utf8');
  const budget = documentBudgetBytes(spec);
  if (specBytes + modelBytes > budget) {
    const what = parsed === undefined ? `spec is ${specBytes} bytes once minified` : `spec and model are ${specBytes} + ${modelBytes} bytes once minified`;
    throw new SpecFileError(
      `${what}; at most ${budget} fit in the consumer's environment (Lambda's 4 KB limit${parsed === undefined ? '' : ', less what the scoring variables take'})`,
    );
  }
  return parsed === undefined ? { spec, json } : { spec, json, model: parsed.model, modelJson: parsed.json };
}

/** Pipeline name derived from a spec path: `bin/specs/fraud.json` -> `fraud`. */
export function pipelineNameFromSpecPath(specPath: string): string {
  return path.basename(specPath).replace(/\.json$/i, '');
}
