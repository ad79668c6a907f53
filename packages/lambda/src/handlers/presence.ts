import { makePresenceHandler } from "./fleet.js";

// The presence rule's function (bundle entry).
let wired: ReturnType<typeof makePresenceHandler> | undefined;
export const handler = (event: unknown) => {
  wired ??= makePresenceHandler(process.env);
  return wired(event);
};
