/**
 * What the AWS IoT policy lets a device do, as pure rules (the local broker
 * enforces them; the CDK app writes the same rules as an IoT policy): a
 * device is its certificate's thing name and touches only its own topics.
 */
export const devicePublishTopics = (prefix: string, thing: string): ReadonlyArray<string> => [
  `${prefix}/${thing}/sensor/data`,
  `${prefix}/${thing}/status`,
  `${prefix}/${thing}/device/info`,
  `${prefix}/${thing}/commands/response`,
  `$aws/things/${thing}/shadow/update`,
  `$aws/things/${thing}/shadow/get`,
];

export type Verdict =
  | { readonly allowed: true }
  | { readonly allowed: false; readonly reason: string };

const allow: Verdict = { allowed: true };

export const mayPublish = (prefix: string, thing: string, topic: string): Verdict =>
  devicePublishTopics(prefix, thing).includes(topic)
    ? allow
    : { allowed: false, reason: `${thing} may publish only to its own topics, not ${topic}` };

/** The shadow's response topics a device may subscribe to and receive (AWS reserved topics). */
export const shadowResponseTopics = (thing: string): ReadonlyArray<string> =>
  ["update/accepted", "update/rejected", "update/delta", "get/accepted", "get/rejected"].map(
    (t) => `$aws/things/${thing}/shadow/${t}`,
  );

/**
 * The filters a device may subscribe with: its own `commands/#` and its
 * shadow responses. An IoT policy reads MQTT wildcards in a `topicfilter`
 * resource literally, so these are the exact filters allowed, nothing narrower
 * or wider (the CDK app's policy lists the same ones).
 */
export const deviceSubscribeFilters = (prefix: string, thing: string): ReadonlyArray<string> => [
  `${prefix}/${thing}/commands/#`,
  ...shadowResponseTopics(thing),
];

export const maySubscribe = (prefix: string, thing: string, filter: string): Verdict =>
  deviceSubscribeFilters(prefix, thing).includes(filter)
    ? allow
    : {
        allowed: false,
        reason: `${thing} may subscribe only to its own commands/# and shadow responses, not ${filter}`,
      };
