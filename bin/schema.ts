/** `npm run schema` — writes the pipeline spec's JSON Schema (built by lambda/core/spec-schema.ts) beside the example specs. */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pipelineSpecSchema } from '../lambda/core/spec-schema';
import { helpText, parseArgs } from './cli/args';
import { SCHEMA_CLI } from './cli/commands';
import { runMain } from './cli/run-main';

export const SCHEMA_PATH = join(__dirname, 'specs', 'pipeline-spec.schema.json');

export function schemaText(): string {
  return `${JSON.stringify(pipelineSpecSchema(), null, 2)}\n`;
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2), SCHEMA_CLI);
  if (args.help) {
    process.stdout.write(helpText(SCHEMA_CLI));
    return 0;
  }
  if (args.check === true) {
    const same = readFileSync(SCHEMA_PATH, 'utf8') === schemaText();
    process.stderr.write(same ? `${SCHEMA_PATH} is up to date\n` : `${SCHEMA_PATH} differs from the schema the validator makes; run npm run schema\n`);
    return same ? 0 : 1;
  }
  writeFileSync(SCHEMA_PATH, schemaText());
  process.stdout.write(`wrote ${SCHEMA_PATH}\n`);
  return 0;
}

if (require.main === module) runMain(SCHEMA_CLI, main);
