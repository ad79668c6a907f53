import { SHADOW_NAME } from "./document.js";

/**
 * The Device Shadow service's reserved topics
 * (https://docs.aws.amazon.com/iot/latest/developerguide/device-shadow-mqtt.html):
 * `$aws/things/{thing}/shadow` for the classic shadow,
 * `$aws/things/{thing}/shadow/name/{shadowName}` for a named one, then the
 * operation and, for answers, `accepted`, `rejected`, `delta` or `documents`.
 */
export type ShadowOperation = "get" | "update" | "delete";
export const SHADOW_OPERATIONS: ReadonlyArray<ShadowOperation> = ["get", "update", "delete"];

/** Which shadow: its thing, and its name for a named shadow. */
export interface ShadowAddress {
  readonly thing: string;
  readonly shadowName?: string;
}

const THING = /^[a-zA-Z0-9:_-]{1,128}$/;

/** `$aws/things/{thing}/shadow` or `…/shadow/name/{shadowName}`. */
export const shadowTopicPrefix = ({ thing, shadowName }: ShadowAddress): string =>
  `$aws/things/${thing}/shadow${shadowName === undefined ? "" : `/name/${shadowName}`}`;

/** A topic of the shadow: `{prefix}/{rest}`, e.g. `update/delta`. */
export const shadowTopic = (address: ShadowAddress, rest: string): string =>
  `${shadowTopicPrefix(address)}/${rest}`;

/**
 * The shadow and operation a request topic (`…/get`, `…/update`, `…/delete`)
 * names; undefined for any other topic, the answers included (they are the
 * service's, never requests), and for a thing or shadow name AWS would not take.
 */
export const parseShadowRequest = (
  topic: string,
): (ShadowAddress & { readonly operation: ShadowOperation }) | undefined => {
  const levels = topic.split("/");
  if (levels[0] !== "$aws" || levels[1] !== "things" || levels[3] !== "shadow") return undefined;
  const thing = levels[2] ?? "";
  if (!THING.test(thing)) return undefined;
  let rest = levels.slice(4);
  let shadowName: string | undefined;
  if (rest[0] === "name") {
    shadowName = rest[1] ?? "";
    if (!SHADOW_NAME.test(shadowName)) return undefined;
    rest = rest.slice(2);
  }
  if (rest.length !== 1) return undefined;
  const operation = SHADOW_OPERATIONS.find((o) => o === rest[0]);
  if (operation === undefined) return undefined;
  return { thing, ...(shadowName !== undefined ? { shadowName } : {}), operation };
};
