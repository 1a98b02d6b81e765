/**
 * Reads the pipeline spec of a CLI (`--config`): errors name the file, and a spec that runs locally but could
 * not be deployed (over the consumer's environment budget) is accepted with a warning.
 */
import { readFileSync } from 'node:fs';
import { type PipelineSpec, SpecError, parseSpecJson } from '../../lambda/core/spec';
import { MAX_SPEC_BYTES } from '../../lib/spec-loader';
import { CliFileError, checkReadableFile } from './files';

export function loadSpecFile(path: string, warn?: (message: string) => void): PipelineSpec {
  checkReadableFile('--config', path, 'a pipeline spec (JSON; see "Pipeline spec" in the README)');
  let spec: PipelineSpec;
  try {
    spec = parseSpecJson(readFileSync(path, 'utf8'));
  } catch (e) {
    // The engine's messages name the field; name the file too, as `cdk synth` does.
    if (e instanceof SpecError) throw new CliFileError(`spec ${path}: ${e.message}`);
    throw e;
  }
  const bytes = Buffer.byteLength(JSON.stringify(spec), 'utf8');
  if (bytes > MAX_SPEC_BYTES) {
    warn?.(`spec ${path} is ${bytes} bytes once minified, over the ${MAX_SPEC_BYTES} bytes the deployed consumer can receive in its environment (Lambda's 4 KB limit): it runs here, but \`cdk synth\` and \`cdk deploy\` refuse it`);
  }
  return spec;
}
