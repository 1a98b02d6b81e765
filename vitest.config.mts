import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Emulator-backed suites start their own processes; two cores, so keep workers modest.
    maxWorkers: 2,
    // Node 20 is supported locally; the AWS SDK's notice about Node 22 would repeat in every suite (see
    // bin/cli/node-support.ts).
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  },
});
