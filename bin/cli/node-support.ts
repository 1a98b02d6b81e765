/**
 * Node.js versions: the local tools run on Node 20 or later (package.json "engines"); the deployed consumer runs
 * on the Lambda Node.js 22 runtime. The AWS SDK prints a nine-line NodeVersionSupportWarning the first time a
 * client is created on Node < 22 (SDK releases after January 2027 will need Node 22). The SDK pinned in the
 * lockfile runs on Node 20, and the warning says nothing about the pipeline, so the CLIs silence it through the
 * SDK's own switch, unless the variable is already set (set it to "false" to see the warning again). The
 * deployed function never needs this: it runs on Node 22.
 */
export const SDK_NODE_WARNING_SWITCH = 'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED';

export function silenceSdkNodeVersionWarning(env: NodeJS.ProcessEnv = process.env): void {
  env[SDK_NODE_WARNING_SWITCH] ??= 'true';
}

/**
 * `Promise.withResolvers` (Node 22) for Node 20: the local Step Functions interpreter (aws-local-stepfunctions)
 * calls it on every Task state.
 */
export function polyfillPromiseWithResolvers(): void {
  const P = Promise as unknown as { withResolvers?: () => unknown };
  P.withResolvers ??= <T>() => {
    let resolve!: (v: T) => void;
    let reject!: (e: unknown) => void;
    const promise = new Promise<T>((a, b) => {
      resolve = a;
      reject = b;
    });
    return { promise, resolve, reject };
  };
}
