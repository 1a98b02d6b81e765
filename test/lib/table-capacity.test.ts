/**
 * Table capacity: on-demand by default, or provisioned with auto scaling of reads and writes between the given
 * limits (per table: the state table, the predictions table), refused with named errors when the limits cannot
 * work, and clean under cdk-nag.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { App, type CfnElement, Validations } from 'aws-cdk-lib';
import type { Template } from 'aws-cdk-lib/assertions';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PipelinePropsError } from '../../lib/errors';
import { PipelineStack, type PipelineStackProps } from '../../lib/pipeline-stack';
import { type TableCapacity, validateTableCapacity } from '../../lib/tables';
import { runCli } from '../support/run-cli';
import { FRAUD_MODEL_JSON, FRAUD_SPEC_JSON, NO_BUNDLING, buildPipeline, examplePipeline } from './fixtures';

interface Resource {
  readonly Properties: Record<string, unknown>;
}

let app: App;
let stack: PipelineStack;
let template: Template;

beforeAll(() => {
  app = new App({ context: NO_BUNDLING });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));
  // One synthesis: the state table with explicit limits, the predictions table with the defaults.
  ({ stack, template } = buildPipeline(
    {
      stateTableCapacity: { mode: 'provisioned', readMin: 2, readMax: 40, writeMin: 5, writeMax: 500, targetUtilization: 60 },
      predictions: { tableCapacity: { mode: 'provisioned' } },
    },
    { app },
  ));
});

const logicalId = (table: dynamodb.Table): string => stack.getLogicalId(table.node.defaultChild as CfnElement);

/** The scalable targets and their target-tracking policies of one table, by dimension. */
function scaling(t: Template, table: dynamodb.Table): Record<string, { min: number; max: number; target: number; metric: string }> {
  const id = logicalId(table);
  const targets = Object.entries(t.findResources('AWS::ApplicationAutoScaling::ScalableTarget') as Record<string, Resource>).filter(([, r]) =>
    JSON.stringify(r.Properties.ResourceId).includes(`"Ref":"${id}"`),
  );
  const policies = Object.values(t.findResources('AWS::ApplicationAutoScaling::ScalingPolicy') as Record<string, Resource>);
  const out: Record<string, { min: number; max: number; target: number; metric: string }> = {};
  for (const [targetId, r] of targets) {
    const p = policies.filter((x) => JSON.stringify(x.Properties.ScalingTargetId) === JSON.stringify({ Ref: targetId }));
    expect(p).toHaveLength(1);
    const tracking = p[0]!.Properties.TargetTrackingScalingPolicyConfiguration as { TargetValue: number; PredefinedMetricSpecification: { PredefinedMetricType: string } };
    expect(p[0]!.Properties.PolicyType).toBe('TargetTrackingScaling');
    out[r.Properties.ScalableDimension as string] = {
      min: r.Properties.MinCapacity as number,
      max: r.Properties.MaxCapacity as number,
      target: tracking.TargetValue,
      metric: tracking.PredefinedMetricSpecification.PredefinedMetricType,
    };
  }
  return out;
}

const tableProps = (t: Template, table: dynamodb.Table): Record<string, unknown> => (t.toJSON().Resources[logicalId(table)] as Resource).Properties;

describe('provisioned table capacity', () => {
  it('provisions the state table at its minimums, auto scaled between its limits at the target utilization', () => {
    const p = tableProps(template, stack.tables.stateTable);
    expect(p.BillingMode).toBe('PROVISIONED');
    expect(p.ProvisionedThroughput).toEqual({ ReadCapacityUnits: 2, WriteCapacityUnits: 5 });
    expect(scaling(template, stack.tables.stateTable)).toEqual({
      'dynamodb:table:ReadCapacityUnits': { min: 2, max: 40, target: 60, metric: 'DynamoDBReadCapacityUtilization' },
      'dynamodb:table:WriteCapacityUnits': { min: 5, max: 500, target: 60, metric: 'DynamoDBWriteCapacityUtilization' },
    });
  });

  it('gives the predictions table its own capacity: the defaults, 1 to 1000 units at 70 %', () => {
    const table = stack.predictions!.table;
    expect(tableProps(template, table)).toMatchObject({ BillingMode: 'PROVISIONED', ProvisionedThroughput: { ReadCapacityUnits: 1, WriteCapacityUnits: 1 } });
    expect(scaling(template, table)).toEqual({
      'dynamodb:table:ReadCapacityUnits': { min: 1, max: 1000, target: 70, metric: 'DynamoDBReadCapacityUtilization' },
      'dynamodb:table:WriteCapacityUnits': { min: 1, max: 1000, target: 70, metric: 'DynamoDBWriteCapacityUtilization' },
    });
    template.resourceCountIs('AWS::ApplicationAutoScaling::ScalableTarget', 4);
  });

  it('keeps point-in-time recovery, TTL and encryption as on demand', () => {
    const p = tableProps(template, stack.tables.stateTable);
    const onDemand = tableProps(examplePipeline().template, examplePipeline().stack.tables.stateTable);
    for (const key of ['PointInTimeRecoverySpecification', 'TimeToLiveSpecification', 'SSESpecification', 'KeySchema']) expect(p[key], key).toEqual(onDemand[key]);
  });

  it('stays on demand by default, with no auto scaling', () => {
    const { template: t, stack: s } = examplePipeline();
    expect(tableProps(t, s.tables.stateTable).BillingMode).toBe('PAY_PER_REQUEST');
    expect(tableProps(t, s.predictions!.table).BillingMode).toBe('PAY_PER_REQUEST');
    t.resourceCountIs('AWS::ApplicationAutoScaling::ScalableTarget', 0);
  });

  it('has no cdk-nag finding', () => {
    for (const pack of [new AwsSolutionsChecks(), new ServerlessChecks()]) {
      const report = pack.validateScope(app);
      expect(report.violations.map((v) => `${v.ruleName}: ${v.violatingResources.map((r) => r.constructPath).join(', ')}`)).toEqual([]);
    }
  });
});

describe('refused table capacity', () => {
  const refusal = (capacity: unknown): string => {
    try {
      validateTableCapacity(capacity as TableCapacity, 'PipelineStack', 'stateTableCapacity');
    } catch (e) {
      expect(e).toBeInstanceOf(PipelinePropsError);
      return (e as Error).message;
    }
    throw new Error('expected a refusal');
  };

  it.each([
    [{ mode: 'reserved' }, 'PipelineStack: stateTableCapacity.mode must be "on-demand" or "provisioned" (got "reserved")'],
    [{ mode: 'on-demand', writeMax: 10 }, 'PipelineStack: stateTableCapacity.writeMax goes with mode "provisioned" only'],
    [{ mode: 'provisioned', readMin: 0 }, 'PipelineStack: stateTableCapacity.readMin must be an integer from 1 to 40000 capacity units (got 0)'],
    [{ mode: 'provisioned', writeMin: 2.5 }, 'PipelineStack: stateTableCapacity.writeMin must be an integer from 1 to 40000 capacity units (got 2.5)'],
    [{ mode: 'provisioned', writeMax: 50_000 }, 'PipelineStack: stateTableCapacity.writeMax must be an integer from 1 to 40000 capacity units (got 50000)'],
    [{ mode: 'provisioned', readMin: 50, readMax: 10 }, 'PipelineStack: stateTableCapacity.readMax (10) must be at least stateTableCapacity.readMin (50)'],
    [{ mode: 'provisioned', writeMin: 2000 }, 'PipelineStack: stateTableCapacity.writeMax (1000) must be at least stateTableCapacity.writeMin (2000)'],
    [{ mode: 'provisioned', targetUtilization: 95 }, 'PipelineStack: stateTableCapacity.targetUtilization must be a percentage from 20 to 90 (got 95)'],
    [{ mode: 'provisioned', targetUtilization: 10 }, 'PipelineStack: stateTableCapacity.targetUtilization must be a percentage from 20 to 90 (got 10)'],
  ])('%j', (capacity, message) => {
    expect(refusal(capacity)).toBe(message);
  });

  it('accepts the bounds: 1 unit, min equal to max, 20 % and 90 %', () => {
    expect(() => validateTableCapacity({ mode: 'provisioned', readMin: 1, readMax: 1, writeMin: 40_000, writeMax: 40_000, targetUtilization: 20 }, 'o', 'p')).not.toThrow();
    expect(() => validateTableCapacity({ mode: 'provisioned', targetUtilization: 90 }, 'o', 'p')).not.toThrow();
  });

  const construct = (overrides: Partial<PipelineStackProps>): PipelineStack =>
    new PipelineStack(new App({ context: NO_BUNDLING }), 'Props', { specJson: FRAUD_SPEC_JSON, modelJson: FRAUD_MODEL_JSON, pipelineName: 'fraud', ...overrides });
  const thrown = (fn: () => unknown): string => {
    try {
      fn();
    } catch (e) {
      expect(e).toBeInstanceOf(PipelinePropsError);
      return (e as Error).message;
    }
    throw new Error('expected a refusal');
  };

  it('the stack refuses before building anything, naming the prop of each table', () => {
    expect(thrown(() => construct({ stateTableCapacity: { mode: 'provisioned', writeMin: 0 } }))).toBe(
      'PipelineStack: stateTableCapacity.writeMin must be an integer from 1 to 40000 capacity units (got 0)',
    );
    expect(thrown(() => construct({ predictions: { tableCapacity: { mode: 'provisioned', targetUtilization: 91 } } }))).toBe(
      'PipelineStack: predictions.tableCapacity.targetUtilization must be a percentage from 20 to 90 (got 91)',
    );
  });
});

describe('cdk synth -c tableCapacity (bin/app.ts)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'table-capacity-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const synth = (tableCapacity: unknown, out: string) =>
    runCli('bin/app.ts', [], { ...process.env, CDK_CONTEXT_JSON: JSON.stringify({ tableCapacity, 'aws:cdk:bundling-stacks': [] }), CDK_OUTDIR: path.join(dir, out) });

  it('puts both tables of the example on provisioned capacity with the limits given as JSON, and refuses bad values by name', async () => {
    const [good, bad, word] = await Promise.all([
      synth('{"mode":"provisioned","writeMin":5,"writeMax":500}', 'good'),
      synth({ mode: 'provisioned', writeMax: 0 }, 'bad'),
      synth('cheap', 'word'),
    ]);
    expect(good.code, good.stderr).toBe(0);
    const resources = Object.values((JSON.parse(readFileSync(path.join(dir, 'good', 'FeaturePipeline-fraud.template.json'), 'utf8')) as { Resources: Record<string, Resource & { Type: string }> }).Resources);
    const tables = resources.filter((r) => r.Type === 'AWS::DynamoDB::Table').map((r) => [r.Properties.BillingMode, r.Properties.ProvisionedThroughput]);
    expect(tables).toEqual([
      ['PROVISIONED', { ReadCapacityUnits: 1, WriteCapacityUnits: 5 }],
      ['PROVISIONED', { ReadCapacityUnits: 1, WriteCapacityUnits: 5 }],
    ]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe('PipelineStack: stateTableCapacity.writeMax must be an integer from 1 to 40000 capacity units (got 0)\n');
    expect(word.code).toBe(1);
    expect(word.stderr).toMatch(/^context tableCapacity must be "on-demand", "provisioned" or a JSON object/);
  }, 120_000);
});
