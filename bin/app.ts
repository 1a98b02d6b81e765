#!/usr/bin/env node
/**
 * CDK app of the feature pipeline. Context:
 *   -c spec=<path>          pipeline spec (default bin/specs/fraud.json); its scoring.model file is read next to it
 *   -c pipelineName=<name>  metric dimension and name part (default: the spec file's base name)
 *   -c stackName=<name>     stack name (default FeaturePipeline-<pipelineName>)
 *   -c alarmEmail=<email>   subscribe an email address to the alarms
 *   -c devStack=true        a development stack: the cheapest idle streams (provisioned, one shard, 24 h retention), and the
 *                           state table, the buckets (emptied first) and the logs destroyed with the stack
 *   -c encryptionKey=new    encrypt tables, streams, queues and buckets with a new customer-managed KMS key;
 *   -c encryptionKey=<ARN>  or with an existing key, by its key ARN
 *   -c vpc=new              run the functions in a new VPC (two AZs, isolated subnets) with the endpoints they need
 *   -c tableCapacity=provisioned
 *                           the state and predictions tables on provisioned capacity with auto scaling (1-1000 units
 *                           of reads and of writes, 70 % target); limits as JSON, e.g.
 *                           -c 'tableCapacity={"mode":"provisioned","writeMin":5,"writeMax":500,"targetUtilization":60}'
 */
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import type { PipelineEncryptionOptions } from '../lib/encryption';
import { PipelinePropsError } from '../lib/errors';
import type { PipelineNetworkOptions } from '../lib/network';
import { PipelineStack } from '../lib/pipeline-stack';
import type { TableCapacity } from '../lib/tables';
import { DEFAULT_SPEC_PATH, pipelineNameFromSpecPath, readSpecFiles } from '../lib/spec-loader';

const app = new App();
Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));

function stringContext(key: string): string | undefined {
  const value: unknown = app.node.tryGetContext(key);
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') throw new PipelinePropsError(`context ${key} must be a string (got ${JSON.stringify(value)})`);
  return value;
}

function booleanContext(key: string): boolean {
  const value: unknown = app.node.tryGetContext(key);
  if (value === undefined || value === false || value === 'false') return false;
  if (value === true || value === 'true') return true;
  throw new PipelinePropsError(`context ${key} must be true or false (got ${JSON.stringify(value)})`);
}

/** `new`: a key made by the stack; otherwise the ARN of an existing key (checked by the stack). */
function encryptionContext(value: string | undefined): PipelineEncryptionOptions | undefined {
  if (value === undefined) return undefined;
  return value === 'new' ? {} : { keyArn: value };
}

/** Only `new`: an existing VPC is given through the `network` prop of PipelineStack (it needs a lookup). */
function networkContext(value: string | undefined): PipelineNetworkOptions | undefined {
  if (value === undefined) return undefined;
  if (value !== 'new') throw new PipelinePropsError(`context vpc must be "new" (got ${JSON.stringify(value)}); an existing VPC is given through the network prop of PipelineStack`);
  return {};
}

/**
 * `on-demand`, `provisioned` (default limits), or a JSON object of TableCapacity (cdk.json may hold the object
 * itself); the stack checks the limits.
 */
function capacityContext(key: string): TableCapacity | undefined {
  const value: unknown = app.node.tryGetContext(key);
  if (value === undefined || value === null || value === '') return undefined;
  if (value === 'on-demand' || value === 'provisioned') return { mode: value };
  let parsed: unknown = value;
  if (typeof value === 'string') {
    try {
      parsed = JSON.parse(value);
    } catch {
      parsed = undefined;
    }
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new PipelinePropsError(`context ${key} must be "on-demand", "provisioned" or a JSON object such as {"mode":"provisioned","writeMax":500} (got ${JSON.stringify(value)})`);
  }
  return parsed as TableCapacity;
}

/** Configuration errors are the user's to fix: print the message alone, without a stack trace. */
const CONFIG_ERRORS = new Set(['SpecError', 'SpecFileError', 'ModelError', 'PipelinePropsError']);

let specPath = DEFAULT_SPEC_PATH;
try {
  specPath = stringContext('spec') ?? DEFAULT_SPEC_PATH;
  const pipelineName = stringContext('pipelineName') ?? pipelineNameFromSpecPath(specPath);
  // Stack names allow letters, digits and hyphens only.
  const stackName = stringContext('stackName') ?? `FeaturePipeline-${pipelineName.replace(/[^A-Za-z0-9-]/g, '-')}`;
  const { specJson, modelJson } = readSpecFiles(specPath);
  const tableCapacity = capacityContext('tableCapacity');
  new PipelineStack(app, stackName, {
    stackName,
    description: `Event-time feature pipeline ${pipelineName} (spec ${specPath})`,
    specJson,
    modelJson,
    pipelineName,
    development: booleanContext('devStack'),
    monitoring: { alarmEmail: stringContext('alarmEmail') },
    encryption: encryptionContext(stringContext('encryptionKey')),
    network: networkContext(stringContext('vpc')),
    ...(tableCapacity === undefined ? {} : { stateTableCapacity: tableCapacity, ...(modelJson === undefined ? {} : { predictions: { tableCapacity } }) }),
  });
  app.synth();
} catch (e) {
  if (!(e instanceof Error) || !CONFIG_ERRORS.has(e.name)) throw e;
  // The engine's messages name the field; name the file too (a model's message names its file already).
  console.error(e.name === 'SpecError' ? `spec ${specPath}: ${e.message}` : e.message);
  process.exit(1);
}
