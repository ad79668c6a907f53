import type { TestProjectInlineConfiguration } from "vitest/config";

// Workspace packages export their TypeScript sources under this condition, so
// tests run against `src/` without a build step.
const resolve = { conditions: ["@medusa/source", "import", "module", "node", "default"] };
const ssr = { resolve: { conditions: ["@medusa/source", "import", "module", "node", "default"] } };

/** Fast tests: pure code and in-memory twins. */
export const unitProject = (name: string): TestProjectInlineConfiguration => ({
  resolve,
  ssr,
  test: {
    name: `${name}:unit`,
    root: `packages/${name}`,
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    exclude: ["**/*.int.test.ts", "**/node_modules/**"],
    testTimeout: 30_000,
  },
});

/** Slow tests against real components: DynamoDB Local, MQTT brokers, TLS. */
export const intProject = (name: string): TestProjectInlineConfiguration => ({
  resolve,
  ssr,
  test: {
    name: `${name}:int`,
    root: `packages/${name}`,
    include: ["src/**/*.int.test.ts", "test/**/*.int.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
