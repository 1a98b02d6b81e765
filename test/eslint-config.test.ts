/**
 * The import-direction rule of eslint.config.mjs, run through ESLint with the project's own configuration on
 * source text placed at paths inside the tree.
 */
import { join } from 'node:path';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const ROOT = join(__dirname, '..');
const eslint = new ESLint({ cwd: ROOT });

async function violations(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: join(ROOT, file) });
  return result!.messages.filter((m) => m.ruleId === 'pipeline/import-direction').map((m) => m.message);
}

describe('import directions', () => {
  it('keep lambda/core free of AWS packages and of everything outside it', async () => {
    expect(await violations('lambda/core/x.ts', "import { DynamoDBClient } from '@aws-sdk/client-dynamodb';\nexport const c = DynamoDBClient;\n")).toEqual([
      expect.stringContaining('lambda/core may not import "@aws-sdk/client-dynamodb"'),
    ]);
    expect(await violations('lambda/core/x.ts', "import type { WriteGate } from '../adapters/state-store';\nexport type G = WriteGate;\n")).toEqual([
      expect.stringContaining('(lambda/adapters)'),
    ]);
    expect(await violations('lambda/core/x.ts', "import { MetricName } from '../contract/metric-names';\nexport const m = MetricName;\n")).toHaveLength(1);
    expect(await violations('lambda/core/sub/x.ts', "import { parseSpecJson } from '../spec';\nexport const p = parseSpecJson;\n")).toEqual([]);
  });

  it('keep lib/ and bin/ out of the consumer bundle', async () => {
    for (const file of ['lambda/adapters/x.ts', 'lambda/handlers/x.ts']) {
      const depth = '../../';
      expect(await violations(file, `import { PipelineStack } from '${depth}lib/pipeline-stack';\nexport const s = PipelineStack;\n`)).toHaveLength(1);
      expect(await violations(file, `import { readLines } from '${depth}bin/cli/lines';\nexport const r = readLines;\n`)).toHaveLength(1);
      expect(await violations(file, "import { Stack } from 'aws-cdk-lib';\nexport const s = Stack;\n")).toHaveLength(1);
      expect(await violations(file, `import { CONSUMER_ENV } from '${depth}lambda/contract/resources';\nexport const e = CONSUMER_ENV;\n`)).toEqual([]);
    }
  });

  it('let the contract import nothing, and lib/ only the engine and the contract', async () => {
    expect(await violations('lambda/contract/x.ts', "import { join } from 'node:path';\nexport const j = join;\n")).toHaveLength(1);
    expect(await violations('lambda/contract/x.ts', "export * from '../core/spec';\n")).toHaveLength(1);
    expect(await violations('lib/x.ts', "import { FeatureStore } from '../lambda/adapters/feature-store';\nexport const f = FeatureStore;\n")).toHaveLength(1);
    expect(await violations('lib/x.ts', "import { parseSpecJson } from '../lambda/core/spec';\nimport { MetricName } from '../lambda/contract/metric-names';\nexport const p = [parseSpecJson, MetricName];\n")).toEqual([]);
  });

  it('keep the client package self-contained: nothing outside lambda/client, no package but Node\'s own', async () => {
    expect(await violations('lambda/client/x.ts', "import { MAX_KEYS_PER_REQUEST } from '../core/feature-request';\nexport const m = MAX_KEYS_PER_REQUEST;\n")).toHaveLength(1);
    expect(await violations('lambda/client/x.ts', "import { SignatureV4 } from '@smithy/signature-v4';\nexport const s = SignatureV4;\n")).toHaveLength(1);
    expect(await violations('lambda/client/x.ts', "import { createHash } from 'node:crypto';\nimport { Sha256 } from './sign';\nexport const h = [createHash, Sha256];\n")).toEqual([]);
  });
});
