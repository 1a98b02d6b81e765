import * as path from 'node:path';
import { RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';

export const PROJECT_ROOT = path.join(__dirname, '..');

/** Source of a handler under lambda/handlers, bundled with the local esbuild at synth time. */
export function handlerEntry(name: string): string {
  return path.join(PROJECT_ROOT, 'lambda', 'handlers', `${name}.ts`);
}

/** What every function of the pipeline shares: runtime, architecture and a local esbuild bundle. */
export function nodeFunctionBase(entry: string): Pick<
  nodejs.NodejsFunctionProps,
  'entry' | 'handler' | 'projectRoot' | 'depsLockFilePath' | 'runtime' | 'architecture' | 'bundling'
> {
  return {
    entry,
    handler: 'handler',
    projectRoot: PROJECT_ROOT,
    depsLockFilePath: path.join(PROJECT_ROOT, 'package-lock.json'),
    runtime: lambda.Runtime.NODEJS_22_X,
    architecture: lambda.Architecture.ARM_64,
    bundling: {
      forceDockerBundling: false,
      minify: true,
      sourceMap: true,
      sourcesContent: false,
      target: 'node22',
      // The Node.js 22 runtime ships AWS SDK v3; bundling it again only grows the package.
      externalModules: ['@aws-sdk/*'],
    },
  };
}

/** Stack traces point at the TypeScript sources through the bundled source map. */
export const SOURCE_MAP_ENV = { NODE_OPTIONS: '--enable-source-maps' } as const;

/**
 * A function's own log group and role, created in `scope`. The role replaces Lambda's default one, which carries
 * the AWS managed AWSLambdaBasicExecutionRole policy (logs on every log group): this one may write to its own
 * log group only.
 */
export function functionIdentity(
  scope: Construct,
  props: { description: string; logRetention: logs.RetentionDays; removalPolicy: RemovalPolicy },
): { logGroup: logs.LogGroup; role: iam.Role } {
  const logGroup = new logs.LogGroup(scope, 'LogGroup', { retention: props.logRetention, removalPolicy: props.removalPolicy });
  const role = new iam.Role(scope, 'Role', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'), description: props.description });
  logGroup.grantWrite(role);
  return { logGroup, role };
}

const RUNTIME_REASON =
  'Node.js 22 is the runtime the handler is built and tested for (esbuild target node22); moving to a newer one is a deliberate upgrade.';

/** The runtime findings every pipeline function shares, acknowledged on the function resource. */
export function acknowledgeRuntime(fn: lambda.Function, ...more: Array<{ id: string; reason: string }>): void {
  Validations.of(fn.node.defaultChild as lambda.CfnFunction).acknowledge(
    { id: 'AwsSolutions-L1', reason: RUNTIME_REASON },
    { id: 'Serverless-LambdaLatestVersion', reason: RUNTIME_REASON },
    ...more,
  );
}
