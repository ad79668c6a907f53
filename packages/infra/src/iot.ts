import {
  DEVICE_ID_PLACEHOLDER,
  devicePublishTopics,
  deviceSubscribeFilters,
  filterFor,
  jobsReceiveTopics,
  rotationPublishTopics,
  rotationSubscribeFilters,
  shadowResponseTopics,
  topicTemplates,
} from "@medusa/domain";

export { deviceSubscribeFilters, shadowResponseTopics };

/**
 * The IoT policy variable for the thing the connecting certificate is attached
 * to. With it, one policy serves the whole fleet and still binds each device
 * to its own client id and topics.
 */
// biome-ignore lint/suspicious/noTemplateCurlyInString: an IoT policy variable, not a template literal
export const THING_NAME = "${iot:Connection.Thing.ThingName}";

/**
 * Topics a device may receive on: what those filters match. In a policy
 * resource `*` is the policy's wildcard (MQTT's `#` and `+` are literal
 * characters there), so `commands/*` is everything below its own commands.
 */
export const deviceReceiveTopics = (prefix: string, thing: string): ReadonlyArray<string> => {
  const commands = topicTemplates(prefix).commands.replace(DEVICE_ID_PLACEHOLDER, thing);
  return [commands, `${commands}/*`, ...shadowResponseTopics(thing), ...jobsReceiveTopics(thing)];
};

export interface PolicyStatement {
  readonly Sid: string;
  readonly Effect: "Allow";
  readonly Action: string;
  readonly Resource: ReadonlyArray<string>;
  readonly Condition?: Record<string, Record<string, string>>;
}

export interface PolicyDocument {
  readonly Version: "2012-10-17";
  readonly Statement: ReadonlyArray<PolicyStatement>;
}

/**
 * AWS IoT refuses a policy document over 2,048 characters, whitespace not
 * counted ("policyDocument must have a minimum length of 1, with a maximum
 * length of 2048, excluding whitespace",
 * https://docs.aws.amazon.com/iot/latest/apireference/API_CreatePolicy.html,
 * also CreatePolicyVersion's), and a certificate carries at most 10 policies
 * (AWS IoT Core quotas, https://docs.aws.amazon.com/general/latest/gr/iot-core.html#limits_iot).
 */
export const POLICY_DOCUMENT_MAX_CHARS = 2048;

/** A policy document's size as AWS IoT counts it: its JSON without whitespace. */
export const policyDocumentSize = (
  doc: PolicyDocument | Readonly<Record<string, unknown>>,
): number => JSON.stringify(doc).replace(/\s/g, "").length;

/**
 * The device's rights come in three policies, each one capability, since
 * together they pass the size limit (about 3,400 characters with a real ARN
 * prefix): `device` — connect as its own thing and its own MeDUSA topics
 * (telemetry, Basic Ingest, commands); `shadow` — its classic shadow's
 * requests and responses; `jobs` — its Jobs requests, answers and
 * notifications. A certificate gets all three (`devicePolicyNames`).
 */
export const DEVICE_POLICY_PARTS = ["device", "shadow", "jobs"] as const;
export type DevicePolicyPart = (typeof DEVICE_POLICY_PARTS)[number];

/**
 * Which of the three policies grants a topic or filter of the thing (`@medusa/domain`'s lists).
 * Certificate rotation's answers (`rotationSubscribeFilters`) go with Jobs (rotation runs as a
 * job). Its two requests (`rotationPublishTopics`) go where there is room: with them, the jobs
 * policy and the device policy would each pass 2,048 characters at the longest ARN and topic
 * prefixes; the shadow policy's topics do not grow with the topic prefix.
 */
export const devicePolicyPartOf = (topic: string): DevicePolicyPart =>
  topic.startsWith(`$aws/things/${THING_NAME}/shadow/`) || rotationPublishTopics.includes(topic)
    ? "shadow"
    : topic.startsWith(`$aws/things/${THING_NAME}/jobs/`) ||
        rotationSubscribeFilters.includes(topic)
      ? "jobs"
      : "device";

/**
 * The device policies: connect only as the certificate's own thing (and only
 * while the certificate is attached to it), publish only to its own topics —
 * exactly the local broker's `devicePublishTopics`, its sensor data behind
 * the Basic Ingest prefix of `sensorRule` included
 * (`$aws/rules/{sensorRule}/{prefix}/${iot:Connection.Thing.ThingName}/sensor/data`,
 * https://docs.aws.amazon.com/iot/latest/developerguide/iot-basic-ingest.html)
 * — and subscribe to and receive only its own commands and shadow responses;
 * its own Jobs requests, answers and notifications included (`jobsPublishTopics`,
 * `jobsSubscribeFilters`, `jobsReceiveTopics` of `@medusa/domain`: a job id is
 * a topic level, so those take the policy wildcard below the thing's own name).
 * The domain's lists are the one source: each topic goes to the policy of its
 * capability (`devicePolicyPartOf`), none is added, widened or dropped, so the
 * three together grant what the one policy did. Certificate rotation's
 * requests (`rotationPublishTopics`) go into the shadow policy (size), its
 * answers (`rotationSubscribeFilters`) into the jobs policy: the same lists
 * the local broker grants. `arn` turns an IoT resource
 * (`client/…`, `topic/…`, `topicfilter/…`) into its ARN in the deployment's
 * account and region.
 */
export const devicePolicyDocuments = (
  prefix: string,
  sensorRule: string,
  arn: (resource: string) => string,
): Readonly<Record<DevicePolicyPart, PolicyDocument>> => {
  const rights: ReadonlyArray<{
    readonly action: string;
    readonly resources: ReadonlyArray<string>;
  }> = [
    {
      action: "iot:Publish",
      resources: [
        ...devicePublishTopics(prefix, THING_NAME, [sensorRule]),
        ...rotationPublishTopics,
      ].map((t) => `topic/${t}`),
    },
    {
      action: "iot:Subscribe",
      resources: [...deviceSubscribeFilters(prefix, THING_NAME), ...rotationSubscribeFilters].map(
        (f) => `topicfilter/${f}`,
      ),
    },
    {
      action: "iot:Receive",
      // The rotation answers' filters hold no MQTT wildcard: each is the topic it receives.
      resources: [...deviceReceiveTopics(prefix, THING_NAME), ...rotationSubscribeFilters].map(
        (t) => `topic/${t}`,
      ),
    },
  ];
  const of = (part: DevicePolicyPart): ReadonlyArray<PolicyStatement> =>
    rights.flatMap(({ action, resources }) => {
      const own = resources.filter((r) => devicePolicyPartOf(r.slice(r.indexOf("/") + 1)) === part);
      return own.length === 0
        ? []
        : [
            {
              // Sids count towards the limit: the action's name says what the statement is.
              Sid: action.slice("iot:".length),
              Effect: "Allow" as const,
              Action: action,
              Resource: own.map(arn),
            },
          ];
    });
  return {
    device: {
      Version: "2012-10-17",
      Statement: [
        {
          Sid: "Connect",
          Effect: "Allow",
          Action: "iot:Connect",
          Resource: [arn(`client/${THING_NAME}`)],
          Condition: { Bool: { "iot:Connection.Thing.IsAttached": "true" } },
        },
        ...of("device"),
      ],
    },
    shadow: { Version: "2012-10-17", Statement: of("shadow") },
    jobs: { Version: "2012-10-17", Statement: of("jobs") },
  };
};

/** The IoT SQL version the rule is written for. */
export const RULE_SQL_VERSION = "2016-03-23";

/**
 * The ingest rule's SQL, as `@medusa/lambda` documents it: the device's JSON
 * plus the topic (the device id comes from it), the client id and the time
 * IoT received the message. The same SQL serves Basic Ingest: a message
 * published to `$aws/rules/{rule}/{prefix}/{id}/sensor/data` reaches the rule
 * with `topic()` = `{prefix}/{id}/sensor/data`, since "the initial prefix of
 * a Basic Ingest topic (`$aws/rules/rule-name`) isn't available to the
 * topic() function" (https://docs.aws.amazon.com/iot/latest/developerguide/iot-basic-ingest.html),
 * so the ingest reads both alike.
 */
export const sensorRuleSql = (prefix: string): string =>
  `SELECT *, topic() AS topic, clientId() AS client_id, timestamp() AS received_at FROM '${filterFor(topicTemplates(prefix).sensorData)}'`;
