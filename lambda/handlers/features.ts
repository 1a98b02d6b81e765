/**
 * Entry point of the features endpoint (Lambda function URL). This build has no serving function yet: every
 * request is answered 501, named, so a deployed endpoint never returns made-up features.
 */
import type { LambdaFunctionURLEvent, LambdaFunctionURLResult } from 'aws-lambda';

export async function handler(_event: LambdaFunctionURLEvent): Promise<LambdaFunctionURLResult> {
  return {
    statusCode: 501,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ error: 'NotImplemented', message: 'this build of the pipeline does not serve features yet' }),
  };
}
