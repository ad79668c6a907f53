import { makeGapDetectorHandler } from "./fleet.js";

// The scheduled gap detector's function (bundle entry).
let wired: ReturnType<typeof makeGapDetectorHandler> | undefined;
export const handler = () => {
  wired ??= makeGapDetectorHandler(process.env);
  return wired();
};
