import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { PipelineStack, type PipelineStackProps } from '../../lib/pipeline-stack';

export const ROOT = path.join(__dirname, '..', '..');
export const FRAUD_SPEC_JSON = readFileSync(path.join(ROOT, 'bin', 'specs', 'fraud.json'), 'utf8');
/** The model document the example spec's scoring section names. */
export const FRAUD_MODEL_JSON = readFileSync(path.join(ROOT, 'bin', 'specs', 'fraud-model.json'), 'utf8');
/** The example spec without its scoring and evaluation sections: features only. */
export const FEATURES_ONLY_SPEC_JSON = JSON.stringify({ ...JSON.parse(FRAUD_SPEC_JSON), scoring: undefined, evaluation: undefined });

/** Props of a features-only pipeline: no scoring, no evaluation. */
export const FEATURES_ONLY: Partial<PipelineStackProps> = { specJson: FEATURES_ONLY_SPEC_JSON, modelJson: undefined };

/** Skips asset bundling: for tests about configuration, not about the bundle. */
export const NO_BUNDLING = { 'aws:cdk:bundling-stacks': [] as string[] };

export interface Built {
  readonly app: App;
  readonly stack: PipelineStack;
  readonly template: Template;
}

/** Builds the stack of the example spec with the given overrides. */
export function buildPipeline(
  overrides: Partial<PipelineStackProps> = {},
  opts: { bundle?: boolean; app?: App } = {},
): Built {
  const app = opts.app ?? new App({ context: opts.bundle ? {} : NO_BUNDLING });
  const stack = new PipelineStack(app, 'TestPipeline', {
    specJson: FRAUD_SPEC_JSON,
    modelJson: FRAUD_MODEL_JSON,
    pipelineName: 'fraud',
    ...overrides,
  });
  return { app, stack, template: Template.fromStack(stack) };
}

let example: Built | undefined;

/**
 * The stack of the example spec as buildPipeline() builds it, synthesized once and shared by the files of a test
 * worker (they run one after another, sharing modules: vitest.config.mts). Read it only: add nothing to it.
 */
export function examplePipeline(): Built {
  example ??= buildPipeline();
  return example;
}

type Json = unknown;

/** Every IAM-style statement in the template: identity policies, roles' inline policies and resource policies. */
export function allStatements(template: Template): Array<Record<string, Json>> {
  const out: Array<Record<string, Json>> = [];
  const visit = (node: Json): void => {
    if (Array.isArray(node)) {
      node.forEach(visit);
      return;
    }
    if (node === null || typeof node !== 'object') return;
    const obj = node as Record<string, Json>;
    if (Array.isArray(obj.Statement)) {
      for (const st of obj.Statement) out.push(st as Record<string, Json>);
    }
    Object.values(obj).forEach(visit);
  };
  visit(template.toJSON().Resources);
  return out;
}

export function asArray<T>(v: T | T[] | undefined): T[] {
  if (v === undefined) return [];
  return Array.isArray(v) ? v : [v];
}

/** Logical id of the only resource of a type, failing if there is not exactly one. */
export function onlyLogicalId(template: Template, type: string): string {
  const ids = Object.keys(template.findResources(type));
  if (ids.length !== 1) throw new Error(`expected one ${type}, found ${ids.length}`);
  return ids[0] as string;
}

/** Concatenates the literal parts of a CloudFormation string (Fn::Join), replacing references by a marker. */
export function flattenCfnString(value: Json): string {
  if (typeof value === 'string') return value;
  if (value !== null && typeof value === 'object' && 'Fn::Join' in value) {
    const [sep, parts] = (value as { 'Fn::Join': [string, Json[]] })['Fn::Join'];
    return parts.map(flattenCfnString).join(sep);
  }
  return '<ref>';
}

/**
 * Logical id of the resource an IAM `Resource` entry points at: `Ref`, `Fn::GetAtt`, or the `Fn::GetAtt` inside an
 * `Fn::Join` (an ARN with a key pattern appended, such as `<bucket arn>/finals/fraud/*`).
 */
export function resourceTarget(res: Json): string | undefined {
  if (res === null || typeof res !== 'object') return undefined;
  const ref = res as { 'Fn::GetAtt'?: [string, string]; Ref?: string; 'Fn::Join'?: [string, Json[]]; 'Fn::Select'?: [number, Json]; 'Fn::Split'?: [string, Json] };
  if (ref['Fn::Join']) return ref['Fn::Join'][1].map(resourceTarget).find((t) => t !== undefined);
  // Part of a resource's own ARN (a state machine's executions are named from its ARN).
  if (ref['Fn::Select']) return resourceTarget(ref['Fn::Select'][1]);
  if (ref['Fn::Split']) return resourceTarget(ref['Fn::Split'][1]);
  // Pseudo parameters (AWS::Partition, AWS::Region) name no resource.
  if (ref.Ref?.startsWith('AWS::')) return undefined;
  return ref['Fn::GetAtt']?.[0] ?? ref.Ref;
}

/** Statements of the identity policies attached to one role (by its logical id). */
export function policyStatementsOf(template: Template, roleLogicalId: string): Array<Record<string, Json>> {
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((p) => asArray((p.Properties as { Roles: Json[] }).Roles).some((r) => JSON.stringify(r) === JSON.stringify({ Ref: roleLogicalId })))
    .flatMap((p) => (p.Properties as { PolicyDocument: { Statement: Array<Record<string, Json>> } }).PolicyDocument.Statement);
}
