import { deviceShadowsContract } from "../testing/device-shadows-contract.js";
import { makeInMemoryDeviceShadows } from "./device-shadows.js";

deviceShadowsContract("in memory", async () => {
  const shadows = makeInMemoryDeviceShadows();
  return { shadows, report: async (id, reported) => shadows.report(id, reported) };
});
