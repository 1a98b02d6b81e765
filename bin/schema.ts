/** `npm run schema` — writes the pipeline spec's JSON Schema (built by lambda/core/spec-schema.ts) beside the example specs. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pipelineSpecSchema } from '../lambda/core/spec-schema';

export const SCHEMA_PATH = join(__dirname, 'specs', 'pipeline-spec.schema.json');

export function schemaText(): string {
  return `${JSON.stringify(pipelineSpecSchema(), null, 2)}\n`;
}

if (require.main === module) {
  writeFileSync(SCHEMA_PATH, schemaText());
  console.log(`wrote ${SCHEMA_PATH}`);
}
