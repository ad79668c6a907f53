import { expect, it } from "vitest";

it("the README's example runs against a local TLS broker (its assertions hold)", async () => {
  await expect(import("../examples/try-locally.js")).resolves.toBeDefined();
});
