import { expect, it } from "vitest";
import { DynamoLocalFailed, startDynamoLocal } from "./dynamo-local.js";

it("its Java gets the options asked for (one Java does not know stops it, named in the error); the environment is left as it was", async () => {
  const before = process.env.JAVA_TOOL_OPTIONS;
  const failed = await startDynamoLocal({
    javaOptions: ["-XX:+MedusaNoSuchOption"],
    timeoutMs: 30_000,
  }).then(
    async (started) => {
      await started.stop();
      return null;
    },
    (e: unknown) => e,
  );
  if (!(failed instanceof DynamoLocalFailed))
    throw new Error(`started, or failed otherwise: ${failed}`);
  expect(failed.reason).toContain("MedusaNoSuchOption");
  expect(process.env.JAVA_TOOL_OPTIONS).toBe(before);
}, 60_000);
