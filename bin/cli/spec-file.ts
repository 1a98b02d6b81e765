/**
 * Reads the pipeline spec of a CLI (`--config`) and, with a scoring section, the model file it names (relative
 * to the spec file): errors name the file, and a spec that runs locally but could not be deployed (over the
 * consumer's environment budget) is accepted with a warning.
 */
import { readFileSync } from 'node:fs';
import type { Model } from '../../lambda/core/model';
import { type PipelineSpec, SpecError, parseSpecJson } from '../../lambda/core/spec';
import { ModelFileError, SpecFileError, documentBudgetBytes, modelPathOf, parseModelText } from '../../lib/spec-loader';
import { CliFileError, checkReadableFile } from './files';

export interface SpecAndModel {
  readonly spec: PipelineSpec;
  /** With a scoring section: the model built from the file `scoring.model` names. */
  readonly model?: Model;
  /** With a scoring section: the model document as minified JSON (what the deployed consumer receives). */
  readonly modelJson?: string;
}

/** The spec of a CLI, its model file checked too (see loadSpecAndModel). */
export function loadSpecFile(path: string, warn?: (message: string) => void): PipelineSpec {
  return loadSpecAndModel(path, warn).spec;
}

/**
 * The spec of a CLI and, with a scoring section, its model.
 * @throws CliFileError naming the spec file or the model file, and the field at fault
 */
export function loadSpecAndModel(path: string, warn?: (message: string) => void): SpecAndModel {
  checkReadableFile('--config', path, 'a pipeline spec (JSON; see docs/semantics.md §1)');
  let spec: PipelineSpec;
  try {
    spec = parseSpecJson(readFileSync(path, 'utf8'));
  } catch (e) {
    // The engine's messages name the field; name the file too, as `cdk synth` does.
    if (e instanceof SpecError) throw new CliFileError(`spec ${path}: ${e.message}`);
    throw e;
  }
  const modelPath = modelPathOf(path, spec);
  let parsed: { model: Model; json: string } | undefined;
  if (modelPath !== undefined) {
    checkReadableFile('scoring.model', modelPath, `the model file of spec ${path} (relative to the spec's folder)`);
    try {
      parsed = parseModelText(readFileSync(modelPath, 'utf8'), spec, modelPath);
    } catch (e) {
      if (e instanceof ModelFileError || e instanceof SpecFileError) throw new CliFileError(e.message);
      throw e;
    }
  }
  const bytes = Buffer.byteLength(JSON.stringify(spec), 'utf8') + (parsed === undefined ? 0 : Buffer.byteLength(parsed.json, 'utf8'));
  const budget = documentBudgetBytes(spec);
  if (bytes > budget) {
    const what = parsed === undefined ? `spec ${path} is` : `spec ${path} and its model are`;
    warn?.(`${what} ${bytes} bytes once minified, over the ${budget} bytes the deployed consumer can receive in its environment (Lambda's 4 KB limit): it runs here, but \`cdk synth\` and \`cdk deploy\` refuse it`);
  }
  return parsed === undefined ? { spec } : { spec, model: parsed.model, modelJson: parsed.json };
}
