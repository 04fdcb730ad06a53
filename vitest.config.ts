import { defineConfig } from 'vitest/config';

// One test runner. Integration tests start real servers (Temporal, MinIO, NATS) through
// test/support/servers.ts; they run one file at a time because they share those servers and 2 cores.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    fileParallelism: false,
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    globalSetup: ['test/support/global-setup.ts'],
  },
});
