import path from 'node:path';
import { fileURLToPath } from 'node:url';
import tseslint from 'typescript-eslint';

const ROOT = path.dirname(fileURLToPath(import.meta.url));

const AWS = /^(@aws-sdk\/|@smithy\/|@aws-lambda-powertools\/|aws-lambda$)/;
const CDK = /^(aws-cdk-lib|aws-cdk$|constructs$|cdk-nag$)/;

/**
 * Import directions. The consumer bundle is built from lambda/, so lambda/ may not reach into lib/ (CDK) or bin/;
 * lambda/core is the pure engine every runtime shares, so it imports no AWS package and nothing outside itself;
 * lambda/contract holds the definitions both lib/ and lambda/ read (table keys, environment names, event source
 * limits, metric names), so it imports nothing at all and either side can depend on it. lib/ may read the engine's
 * spec parser and the contract, never the adapters or handlers (it deploys the handler by path, not by import).
 * lambda/client is the installable features client (npm run build:client), compiled alone: it imports nothing
 * outside itself.
 */
const LAYERS = {
  'lambda/contract': { may: ['lambda/contract'], packages: () => false, why: 'the contract imports nothing' },
  'lambda/core': { may: ['lambda/core'], packages: (p) => !AWS.test(p) && !CDK.test(p), why: 'the engine is pure: no AWS packages, nothing outside lambda/core' },
  'lambda/adapters': { may: ['lambda/core', 'lambda/contract', 'lambda/adapters'], packages: (p) => !CDK.test(p), why: 'the consumer bundle never includes lib/, bin/ or CDK' },
  'lambda/handlers': { may: ['lambda/core', 'lambda/contract', 'lambda/adapters', 'lambda/handlers'], packages: (p) => !CDK.test(p), why: 'the consumer bundle never includes lib/, bin/ or CDK' },
  'lambda/client': { may: ['lambda/client'], packages: (p) => p.startsWith('node:'), why: 'the client package compiles alone: nothing outside lambda/client, no package but Node\'s own (it loads the signer by name at run time)' },
  lib: { may: ['lib', 'lambda/core', 'lambda/contract'], packages: () => true, why: 'lib/ reads the spec parser and the contract, not the adapters or handlers' },
  bin: { may: ['bin', 'lib', 'lambda/core', 'lambda/contract', 'lambda/adapters', 'lambda/handlers'], packages: () => true, why: 'nothing imports tests' },
};

function layerOf(file) {
  const rel = path.relative(ROOT, file).split(path.sep).join('/');
  return Object.keys(LAYERS).find((l) => rel === l || rel.startsWith(`${l}/`)) ?? (rel.startsWith('test/') ? 'test' : undefined);
}

const importDirection = {
  meta: { type: 'problem', schema: [], messages: { forbidden: '{{from}} may not import "{{source}}" ({{target}}): {{why}}' } },
  create(context) {
    const from = layerOf(context.filename);
    const rule = from === undefined ? undefined : LAYERS[from];
    if (!rule) return {};
    const check = (node) => {
      const source = node.source?.value;
      if (typeof source !== 'string') return;
      let target;
      let allowed;
      if (source.startsWith('.')) {
        target = layerOf(path.resolve(path.dirname(context.filename), source)) ?? 'outside the tree';
        allowed = rule.may.includes(target);
      } else {
        target = 'package';
        allowed = rule.packages(source);
      }
      if (!allowed) context.report({ node: node.source, messageId: 'forbidden', data: { from, source, target, why: rule.why } });
    };
    return { ImportDeclaration: check, ExportNamedDeclaration: check, ExportAllDeclaration: check, ImportExpression: check };
  },
};

export default tseslint.config(
  { ignores: ['node_modules/**', 'cdk.out/**', 'out/**', '.sandbox/**'] },
  ...tseslint.configs.recommended,
  {
    plugins: { pipeline: { rules: { 'import-direction': importDirection } } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
      'pipeline/import-direction': 'error',
    },
  },
);
