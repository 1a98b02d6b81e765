/**
 * The backfill state machine's definition as the stack synthesizes it (lib/backfill.ts `backfillDefinition`),
 * with its worker function's ARN resolved to a local name: the local runner executes exactly these states.
 */
import { Stack } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { BACKFILL_RUN_TIMEOUT, type BackfillOptions, backfillDefinition } from '../../lib/backfill';

/** The worker's ARN in the local definition. */
export const LOCAL_WORKER_ARN = 'arn:aws:lambda:us-east-1:000000000000:function:backfill-worker';

/** A state machine's definition from a synthesized template's `DefinitionString`, function ARNs made local. */
export function resolveDefinition(definitionString: unknown): Record<string, unknown> {
  if (typeof definitionString === 'string') return JSON.parse(definitionString) as Record<string, unknown>;
  const join = (definitionString as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
  if (join === undefined) throw new Error('DefinitionString: expected a string or Fn::Join');
  const text = join[1].map((part) => (typeof part === 'string' ? part : LOCAL_WORKER_ARN)).join(join[0]);
  return JSON.parse(text) as Record<string, unknown>;
}

/** Synthesizes the definition with the stack's code and options. */
export function synthesizeBackfillDefinition(options: BackfillOptions = {}): Record<string, unknown> {
  const stack = new Stack(undefined, 'LocalBackfill');
  const fn = new lambda.Function(stack, 'Worker', { runtime: lambda.Runtime.NODEJS_22_X, handler: 'index.handler', code: lambda.Code.fromInline('exports.handler = async () => ({})') });
  const machine = new sfn.StateMachine(stack, 'StateMachine', { definitionBody: sfn.DefinitionBody.fromChainable(backfillDefinition(stack, fn, options)), timeout: BACKFILL_RUN_TIMEOUT });
  // Resolved as synthesis resolves it, without writing a cloud assembly.
  return resolveDefinition(stack.resolve((machine.node.defaultChild as sfn.CfnStateMachine).definitionString));
}
