/**
 * What the consumer bundle loads at cold start: built with esbuild as lib/consumer.ts bundles it (AWS SDK left
 * to the runtime), the SDK clients it requires are exactly the ones the handler calls.
 */
import { join } from 'node:path';
import { build } from 'esbuild';
import { expect, it } from 'vitest';

it('requires only the DynamoDB, SQS and S3 clients of the AWS SDK, not Kinesis (Lambda polls the stream)', async () => {
  const result = await build({
    entryPoints: [join(__dirname, '../../../lambda/handlers/consumer.ts')],
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'cjs',
    minify: true,
    external: ['@aws-sdk/*'],
    metafile: true,
    write: false,
    outfile: 'consumer.js',
    logLevel: 'silent',
  });
  const output = Object.values(result.metafile.outputs).find((o) => o.entryPoint !== undefined)!;
  const sdk = new Set(output.imports.filter((i) => i.external && i.path.startsWith('@aws-sdk/')).map((i) => i.path));
  expect([...sdk].sort()).toEqual(['@aws-sdk/client-dynamodb', '@aws-sdk/client-s3', '@aws-sdk/client-sqs']);
  const inputs = Object.keys(result.metafile.inputs);
  expect(inputs.filter((p) => /(^|\/)(lib|bin)\//.test(p) && !p.includes('node_modules'))).toEqual([]);
});

it('the features endpoint requires only the DynamoDB client of the AWS SDK', async () => {
  const result = await build({
    entryPoints: [join(__dirname, '../../../lambda/handlers/features.ts')],
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'cjs',
    minify: true,
    external: ['@aws-sdk/*'],
    metafile: true,
    write: false,
    outfile: 'features.js',
    logLevel: 'silent',
  });
  const output = Object.values(result.metafile.outputs).find((o) => o.entryPoint !== undefined)!;
  const sdk = new Set(output.imports.filter((i) => i.external && i.path.startsWith('@aws-sdk/')).map((i) => i.path));
  expect([...sdk].sort()).toEqual(['@aws-sdk/client-dynamodb']);
  const inputs = Object.keys(result.metafile.inputs);
  expect(inputs.filter((p) => /(^|\/)(lib|bin)\//.test(p) && !p.includes('node_modules'))).toEqual([]);
});
