import { fileURLToPath } from "node:url";
import type { TestProjectInlineConfiguration } from "vitest/config";

// Workspace packages export their TypeScript sources under this condition, so
// tests run against `src/` without a build step.
const conditions = ["@medusa/source", "node", "import", "default"];
const resolve = { conditions };
const ssr = { resolve: { conditions } };
const setupFiles = [fileURLToPath(new URL("./vitest.setup.ts", import.meta.url))];
const rootOf = (name: string) => fileURLToPath(new URL(`./packages/${name}`, import.meta.url));

/** Test files under these folders of the package only, when given. */
const under = (folders: ReadonlyArray<string> | undefined, pattern: string) =>
  folders === undefined
    ? [`src/${pattern}`, `test/${pattern}`]
    : folders.map((f) => `${f}/${pattern}`);

/** Fast tests: pure code and in-memory twins. */
export const unitProject = (
  name: string,
  folders?: ReadonlyArray<string>,
): TestProjectInlineConfiguration => ({
  resolve,
  ssr,
  test: {
    name: `${name}:unit`,
    root: rootOf(name),
    include: under(folders, "**/*.test.ts"),
    exclude: ["**/*.int.test.ts", "**/node_modules/**"],
    setupFiles,
    testTimeout: 60_000,
  },
});

// Packages whose slow tests use the shared DynamoDB Local (the stack starts its own).
const usesDynamo = new Set(["adapters", "api", "lambda", "infra"]);
const dynamoSetup = fileURLToPath(
  new URL("./packages/adapters/src/testing/vitest-global-setup.ts", import.meta.url),
);

/** Slow tests against real components: DynamoDB Local, MQTT brokers, TLS. */
export const intProject = (
  name: string,
  folders?: ReadonlyArray<string>,
): TestProjectInlineConfiguration => ({
  resolve,
  ssr,
  test: {
    name: `${name}:int`,
    root: rootOf(name),
    include: under(folders, "**/*.int.test.ts"),
    setupFiles,
    ...(usesDynamo.has(name) && folders === undefined ? { globalSetup: [dynamoSetup] } : {}),
    // The Lambda handler tests share one DynamoDB Local and time-based passes, and each stack
    // test starts a whole stack (a JVM among it): run their files one at a time.
    ...(name === "lambda" || name === "stack" ? { fileParallelism: false } : {}),
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
