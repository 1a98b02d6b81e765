/**
 * What the handler bundles load at cold start: built with esbuild as lib/consumer.ts bundles the consumer (AWS SDK left
 * to the runtime), the SDK clients it requires are exactly the ones the handler calls.
 */
import { join } from 'node:path';
import { build } from 'esbuild';
import { expect, it } from 'vitest';

/** The AWS SDK clients a handler's bundle requires, and the project files outside lambda/ it pulls in (none allowed). */
async function bundled(entry: string): Promise<{ sdk: string[]; outside: string[] }> {
  const result = await build({
    entryPoints: [join(__dirname, '../../../lambda/handlers', entry)],
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'cjs',
    minify: true,
    external: ['@aws-sdk/*'],
    metafile: true,
    write: false,
    outfile: 'handler.js',
    logLevel: 'silent',
  });
  const output = Object.values(result.metafile.outputs).find((o) => o.entryPoint !== undefined)!;
  const sdk = new Set(output.imports.filter((i) => i.external && i.path.startsWith('@aws-sdk/')).map((i) => i.path));
  const outside = Object.keys(result.metafile.inputs).filter((p) => /(^|\/)(lib|bin)\//.test(p) && !p.includes('node_modules'));
  return { sdk: [...sdk].sort(), outside };
}

it('requires only the DynamoDB, SQS and S3 clients of the AWS SDK, and Kinesis for the predictions stream', async () => {
  expect(await bundled('consumer.ts')).toEqual({ sdk: ['@aws-sdk/client-dynamodb', '@aws-sdk/client-kinesis', '@aws-sdk/client-s3', '@aws-sdk/client-sqs'], outside: [] });
});

it('the features endpoint requires only the DynamoDB client of the AWS SDK', async () => {
  expect(await bundled('features.ts')).toEqual({ sdk: ['@aws-sdk/client-dynamodb'], outside: [] });
});

it('the labels consumer requires only the DynamoDB and SQS clients of the AWS SDK', async () => {
  expect(await bundled('labels.ts')).toEqual({ sdk: ['@aws-sdk/client-dynamodb', '@aws-sdk/client-sqs'], outside: [] });
});

it('the idle-shard tick requires the clients of the consumer and nothing from lib/ or bin/', async () => {
  expect(await bundled('idle-tick.ts')).toEqual({ sdk: ['@aws-sdk/client-dynamodb', '@aws-sdk/client-kinesis', '@aws-sdk/client-s3', '@aws-sdk/client-sqs'], outside: [] });
});
