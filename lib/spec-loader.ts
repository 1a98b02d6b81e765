import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { type PipelineSpec, parseSpecJson } from '../lambda/core/spec';

/** Spec used when no `-c spec=<path>` is given, relative to the project root. */
export const DEFAULT_SPEC_PATH = 'bin/specs/fraud.json';

/**
 * Largest minified spec accepted. Lambda allows 4 KB for all environment variables together; the rest of the
 * budget goes to the other variables, whose table names and queue URL are only known at deploy time.
 */
export const MAX_SPEC_BYTES = 3072;

/** The spec file could not be read, or the validated spec does not fit where it is shipped. */
export class SpecFileError extends Error {
  public constructor(message: string) {
    super(message);
    this.name = 'SpecFileError';
  }
}

export interface LoadedSpec {
  /** The validated spec, defaults applied. */
  readonly spec: PipelineSpec;
  /** The validated spec as minified JSON: what the consumer receives in PIPELINE_SPEC. */
  readonly json: string;
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

/**
 * Validates spec text with the same parser the consumer uses, so a spec the consumer would refuse never deploys.
 * @throws SpecError (from the engine) naming each bad field; SpecFileError if the spec is too large to ship.
 */
export function loadSpec(text: string): LoadedSpec {
  const spec = parseSpecJson(text);
  const json = JSON.stringify(spec);
  const bytes = Buffer.byteLength(json, 'utf8');
  if (bytes > MAX_SPEC_BYTES) {
    throw new SpecFileError(
      `spec is ${bytes} bytes once minified; at most ${MAX_SPEC_BYTES} fit in the consumer's environment (Lambda's 4 KB limit)`,
    );
  }
  return { spec, json };
}

/** Pipeline name derived from a spec path: `bin/specs/fraud.json` -> `fraud`. */
export function pipelineNameFromSpecPath(specPath: string): string {
  return path.basename(specPath).replace(/\.json$/i, '');
}
