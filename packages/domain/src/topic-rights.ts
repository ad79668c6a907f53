import { DEVICE_ID_PLACEHOLDER, topicTemplates } from "./topics.js";

/**
 * What a device may do on the broker, as the AWS IoT policy says it (the local
 * broker enforces these rules; the CDK app writes them as the IoT policy): a
 * device is its certificate's thing name and touches only its own topics.
 * `thing` is a thing name or a policy variable such as
 * `${iot:Connection.Thing.ThingName}`, so it is placed as text, not checked as
 * a device id.
 */
const forThing = (template: string, thing: string) =>
  template.replace(DEVICE_ID_PLACEHOLDER, thing);

/** The shadow's response topics a device may subscribe to and receive (AWS reserved topics). */
export const shadowResponseTopics = (thing: string): ReadonlyArray<string> =>
  ["update/accepted", "update/rejected", "update/delta", "get/accepted", "get/rejected"].map(
    (t) => `$aws/things/${thing}/shadow/${t}`,
  );

/** The topics a device may publish to: its telemetry, its command responses, its shadow requests. */
export const devicePublishTopics = (prefix: string, thing: string): ReadonlyArray<string> => {
  const t = topicTemplates(prefix);
  return [
    ...[t.sensorData, t.status, t.deviceInfo, t.commandResponse].map((x) => forThing(x, thing)),
    `$aws/things/${thing}/shadow/update`,
    `$aws/things/${thing}/shadow/get`,
  ];
};

/**
 * The filters a device may subscribe with: its own `commands/#` and its
 * shadow responses. An IoT policy reads MQTT wildcards in a `topicfilter`
 * resource literally, so these are the exact filters allowed, nothing narrower
 * or wider.
 */
export const deviceSubscribeFilters = (prefix: string, thing: string): ReadonlyArray<string> => [
  `${forThing(topicTemplates(prefix).commands, thing)}/#`,
  ...shadowResponseTopics(thing),
];

export type Verdict =
  | { readonly allowed: true }
  | { readonly allowed: false; readonly reason: string };

const allow: Verdict = { allowed: true };

export const mayPublish = (prefix: string, thing: string, topic: string): Verdict =>
  devicePublishTopics(prefix, thing).includes(topic)
    ? allow
    : { allowed: false, reason: `${thing} may publish only to its own topics, not ${topic}` };

export const maySubscribe = (prefix: string, thing: string, filter: string): Verdict =>
  deviceSubscribeFilters(prefix, thing).includes(filter)
    ? allow
    : {
        allowed: false,
        reason: `${thing} may subscribe only to its own commands/# and shadow responses, not ${filter}`,
      };
