import { defineConfig } from 'vitest/config';

// The container tests (test/images/*.image-test.ts): not in `npm test`, whose include pattern they do
// not match, because they need the images infra/images.sh builds (many minutes). Run from the
// repository root: npx vitest run --config test/images/vitest.config.ts
export default defineConfig({
  test: {
    include: ['test/images/**/*.image-test.ts'],
    testTimeout: 600_000,
    hookTimeout: 600_000,
    fileParallelism: false,
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    globalSetup: ['test/support/global-setup.ts'],
  },
});
