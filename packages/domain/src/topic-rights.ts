import { rotationPublishTopics, rotationSubscribeFilters } from "./provisioning/rotation.js";
import {
  BASIC_INGEST_PREFIX,
  basicIngestTopic,
  DEVICE_ID_PLACEHOLDER,
  topicTemplates,
} from "./topics.js";

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

/**
 * AWS IoT Jobs' reserved topics of a thing, as IoT policy resources (where
 * `*` is the policy's wildcard: any characters, `/` included): the device
 * publishes its requests (GetPendingJobExecutions on `jobs/get`,
 * StartNextPendingJobExecution on `jobs/start-next`, DescribeJobExecution on
 * `jobs/{jobId}/get`, UpdateJobExecution on `jobs/{jobId}/update`) and
 * subscribes to and receives everything under its own `jobs/` (the answers,
 * `notify`, `notify-next`). Nothing beyond the thing's own name.
 */
export const jobsPublishTopics = (thing: string): ReadonlyArray<string> => [
  `$aws/things/${thing}/jobs/get`,
  `$aws/things/${thing}/jobs/start-next`,
  `$aws/things/${thing}/jobs/*/get`,
  `$aws/things/${thing}/jobs/*/update`,
];
export const jobsSubscribeFilters = (thing: string): ReadonlyArray<string> => [
  `$aws/things/${thing}/jobs/*`,
];
export const jobsReceiveTopics = jobsSubscribeFilters;

/** Whether an IoT policy resource (`*` any characters, nothing else special) matches a topic or filter. */
export const policyResourceMatches = (resource: string, name: string): boolean => {
  if (!resource.includes("*")) return resource === name;
  const pattern = resource
    .split("*")
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
    .join(".*");
  return new RegExp(`^${pattern}$`).test(name);
};

/**
 * The topics a device may publish to: its telemetry, its command responses,
 * its shadow requests, and its sensor data behind the Basic Ingest prefix of
 * each rule in `basicIngestRules` (`$aws/rules/{rule}/{prefix}/{thing}/sensor/data`).
 * Nothing else under `$aws/rules/`: a Basic Ingest topic reaches only its
 * rule, and the other telemetry has readers on the broker. AWS lets a policy
 * grant `$aws/rules/*` or `$aws/rules/{rule}/*`
 * (https://docs.aws.amazon.com/iot/latest/developerguide/iot-basic-ingest.html);
 * this grants the one topic, bound to the thing name.
 */
export const devicePublishTopics = (
  prefix: string,
  thing: string,
  basicIngestRules: ReadonlyArray<string> = [],
): ReadonlyArray<string> => {
  const t = topicTemplates(prefix);
  const sensorData = forThing(t.sensorData, thing);
  return [
    sensorData,
    ...[t.status, t.deviceInfo, t.commandResponse].map((x) => forThing(x, thing)),
    `$aws/things/${thing}/shadow/update`,
    `$aws/things/${thing}/shadow/get`,
    ...jobsPublishTopics(thing),
    ...basicIngestRules.map((rule) => basicIngestTopic(rule, sensorData)),
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
  ...jobsSubscribeFilters(thing),
];

export type Verdict =
  | { readonly allowed: true }
  | { readonly allowed: false; readonly reason: string };

const allow: Verdict = { allowed: true };

/** Whether `thing` may publish to `topic`, the IoT policy naming `basicIngestRules` for Basic Ingest. */
export const mayPublish = (
  prefix: string,
  thing: string,
  topic: string,
  basicIngestRules: ReadonlyArray<string> = [],
): Verdict => {
  if (
    [...devicePublishTopics(prefix, thing, basicIngestRules), ...rotationPublishTopics].some((r) =>
      policyResourceMatches(r, topic),
    )
  )
    return allow;
  if (!topic.startsWith(BASIC_INGEST_PREFIX))
    return { allowed: false, reason: `${thing} may publish only to its own topics, not ${topic}` };
  const own = forThing(topicTemplates(prefix).sensorData, thing);
  return {
    allowed: false,
    reason:
      basicIngestRules.length === 0
        ? `the policy grants ${thing} no Basic Ingest topic, not ${topic}`
        : `${thing} may publish under ${BASIC_INGEST_PREFIX} only its own sensor data to ${basicIngestRules.join(" or ")} (${basicIngestRules.map((r) => basicIngestTopic(r, own)).join(", ")}), not ${topic}`,
  };
};

/**
 * Certificate rotation's rights (`rotationPublishTopics`,
 * `rotationSubscribeFilters`) are granted beside the thing's own: they are
 * AWS's reserved provisioning topics, not bound to a thing name, so the IoT
 * policy holds them in a statement of their own.
 */
export const maySubscribe = (prefix: string, thing: string, filter: string): Verdict =>
  [...deviceSubscribeFilters(prefix, thing), ...rotationSubscribeFilters].some((r) =>
    policyResourceMatches(r, filter),
  )
    ? allow
    : {
        allowed: false,
        reason: `${thing} may subscribe only to its own commands/#, shadow responses and jobs topics, not ${filter}`,
      };
