import { defineConfig } from 'vitest/config';

// The load tests (test/load/*.load-test.ts): not in `npm test`, whose include pattern they do not
// match, because they take many minutes. Run from the repository root:
//   npx tsc -p . && npx vitest run --config test/load/vitest.config.ts
export default defineConfig({
  test: {
    include: ['test/load/**/*.load-test.ts'],
    testTimeout: 3_600_000,
    hookTimeout: 600_000,
    fileParallelism: false,
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    globalSetup: ['test/support/global-setup.ts'],
  },
});
