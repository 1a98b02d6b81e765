import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Emulator-backed suites start their own processes; two cores, so keep workers modest.
    maxWorkers: 2,
    // Files run one after another in each worker process, sharing its loaded modules (the AWS SDK and CDK take
    // seconds to load); each file gets its environment variables back afterwards (test/support/env-per-file.ts).
    isolate: false,
    setupFiles: ['test/support/env-per-file.ts'],
    // Node 20 is supported locally; the AWS SDK's notice about Node 22 would repeat in every suite (see
    // bin/cli/node-support.ts).
    //
    // aws-cdk-lib validates every synthesized template against CloudFormation's default rules. Without the
    // VALIDATE_AGAINST_DEFAULT_RULES flag (no test App sets it) its findings are only printed as warnings and
    // never fail a synthesis, yet it costs about 8 s of CPU per test file to load its WASM engine and 2 s per
    // synthesis. The stack tests assert on the templates themselves, so the tests switch it off with CDK's own
    // variable.
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', CDK_VALIDATION: 'false' },
  },
});
