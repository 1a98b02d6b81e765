import { App, type CfnElement, Duration } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseSpecJson } from '../../lambda/core/spec';
import { SERVING_ENV, SERVING_TABLE_ACTIONS } from '../../lambda/contract/resources';
import { PipelineStack } from '../../lib/pipeline-stack';
import { type Built, FRAUD_MODEL_JSON, FRAUD_SPEC_JSON, NO_BUNDLING, asArray, policyStatementsOf, resourceTarget, examplePipeline } from './fixtures';

let built: Built;
let fnId: string;
let roleId: string;
let logGroupId: string;
let tableId: string;

beforeAll(() => {
  built = examplePipeline();
  const id = (c: { node: { defaultChild?: unknown } }): string => built.stack.getLogicalId(c.node.defaultChild as CfnElement);
  fnId = id(built.stack.serving.function);
  roleId = id(built.stack.serving.role);
  logGroupId = id(built.stack.serving.logGroup);
  tableId = id(built.stack.tables.stateTable);
});

const fnProps = () => built.template.toJSON().Resources[fnId].Properties as Record<string, unknown>;

describe('features endpoint', () => {
  it('is a function URL with IAM authorization, and no permission lets anyone else invoke it', () => {
    built.template.resourceCountIs('AWS::Lambda::Url', 1);
    built.template.hasResourceProperties('AWS::Lambda::Url', {
      AuthType: 'AWS_IAM',
      InvokeMode: 'BUFFERED',
      TargetFunctionArn: { 'Fn::GetAtt': [fnId, 'Arn'] },
    });
    // A NONE URL comes with a permission for principal '*'; an AWS_IAM one needs none.
    const permissions = Object.values(built.template.findResources('AWS::Lambda::Permission')).map((p) => p.Properties);
    expect(permissions.filter((p) => p.FunctionName?.['Fn::GetAtt']?.[0] === fnId || p.FunctionName?.Ref === fnId)).toEqual([]);
  });

  it('runs the features handler on Node.js 22 arm64 with 512 MB and a 10 s timeout, logging to its own group', () => {
    expect(fnProps()).toMatchObject({
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      MemorySize: 512,
      Timeout: 10,
      Handler: 'index.handler',
      LoggingConfig: { LogGroup: { Ref: logGroupId } },
      Role: { 'Fn::GetAtt': [roleId, 'Arn'] },
    });
    expect(fnProps().ReservedConcurrentExecutions).toBeUndefined();
  });

  it('receives every variable of its contract: the validated spec, the pipeline and the state table', () => {
    const vars = (fnProps().Environment as { Variables: Record<string, unknown> }).Variables;
    for (const name of Object.values(SERVING_ENV)) expect(vars, name).toHaveProperty(name);
    expect(JSON.parse(vars[SERVING_ENV.spec] as string)).toEqual(parseSpecJson(FRAUD_SPEC_JSON));
    expect(vars[SERVING_ENV.pipelineName]).toBe('fraud');
    expect(vars[SERVING_ENV.stateTableName]).toEqual({ Ref: tableId });
    // No served log unless asked.
    expect(vars[SERVING_ENV.servedSampleRate]).toBe('0');
  });

  it('may only GetItem and BatchGetItem on the state table, besides writing its own log', () => {
    const statements = policyStatementsOf(built.template, roleId);
    const byTarget = new Map<string, string[]>();
    for (const st of statements) {
      for (const r of asArray(st.Resource)) {
        const target = resourceTarget(r) as string;
        byTarget.set(target, [...(byTarget.get(target) ?? []), ...asArray(st.Action as string | string[])]);
      }
    }
    expect(Object.fromEntries(byTarget)).toEqual({
      [tableId]: [...SERVING_TABLE_ACTIONS],
      [logGroupId]: ['logs:CreateLogStream', 'logs:PutLogEvents'],
    });
    expect(SERVING_TABLE_ACTIONS).toEqual(['dynamodb:GetItem', 'dynamodb:BatchGetItem']);
  });

  it('cannot write the table: no write, query or scan action in its policies', () => {
    const actions = policyStatementsOf(built.template, roleId).flatMap((st) => asArray(st.Action as string | string[]));
    for (const forbidden of ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem', 'dynamodb:Query', 'dynamodb:Scan']) {
      expect(actions).not.toContain(forbidden);
    }
    const role = built.template.toJSON().Resources[roleId];
    expect(role.Properties.ManagedPolicyArns).toBeUndefined();
  });

  it('takes its tuning from props; grantInvoke lets a caller invoke the URL, and only through the URL', () => {
    // One synthesis for both: each takes seconds.
    const stack = new PipelineStack(new App({ context: NO_BUNDLING }), 'Tuned', {
      specJson: FRAUD_SPEC_JSON,
      modelJson: FRAUD_MODEL_JSON,
      pipelineName: 'fraud',
      serving: { memorySize: 1024, timeout: Duration.seconds(3), reservedConcurrentExecutions: 5 },
    });
    const caller = new iam.Role(stack, 'ModelServer', { assumedBy: new iam.AccountRootPrincipal() });
    stack.serving.grantInvoke(caller);
    const template = Template.fromStack(stack);
    const servingId = stack.getLogicalId(stack.serving.function.node.defaultChild as CfnElement);
    expect(template.toJSON().Resources[servingId].Properties).toMatchObject({ MemorySize: 1024, Timeout: 3, ReservedConcurrentExecutions: 5 });

    const statements = policyStatementsOf(template, stack.getLogicalId(caller.node.defaultChild as CfnElement));
    expect(statements).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ Effect: 'Allow', Action: 'lambda:InvokeFunctionUrl', Condition: { StringEquals: { 'lambda:FunctionUrlAuthType': 'AWS_IAM' } } }),
      ]),
    );
    for (const st of statements) {
      expect(resourceTarget(st.Resource)).toBe(servingId);
      // A plain invoke, bypassing the URL, is not granted.
      if (st.Action === 'lambda:InvokeFunction') expect(st.Condition).toEqual({ Bool: { 'lambda:InvokedViaFunctionUrl': true } });
    }
  });

  it('outputs its URL and function name', () => {
    const outputs = built.template.toJSON().Outputs;
    const urlId = built.stack.getLogicalId(built.stack.serving.functionUrl.node.defaultChild as CfnElement);
    expect(outputs.FeaturesUrl.Value).toEqual({ 'Fn::GetAtt': [urlId, 'FunctionUrl'] });
    expect(outputs.ServingFunctionName.Value).toEqual({ Ref: fnId });
  });
});
