import {
  DEVICE_ID_PLACEHOLDER,
  devicePublishTopics,
  deviceSubscribeFilters,
  filterFor,
  jobsReceiveTopics,
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
 * The device policy: connect only as the certificate's own thing (and only
 * while the certificate is attached to it), publish only to its own topics —
 * exactly the local broker's `devicePublishTopics`, its sensor data behind
 * the Basic Ingest prefix of `sensorRule` included
 * (`$aws/rules/{sensorRule}/{prefix}/${iot:Connection.Thing.ThingName}/sensor/data`,
 * https://docs.aws.amazon.com/iot/latest/developerguide/iot-basic-ingest.html)
 * — and subscribe to and receive only its own commands and shadow responses;
 * its own Jobs requests, answers and notifications included (`jobsPublishTopics`,
 * `jobsSubscribeFilters`, `jobsReceiveTopics` of `@medusa/domain`: a job id is
 * a topic level, so those take the policy wildcard below the thing's own name).
 * `arn` turns an IoT resource (`client/…`, `topic/…`, `topicfilter/…`) into
 * its ARN in the deployment's account and region.
 */
export const devicePolicyDocument = (
  prefix: string,
  sensorRule: string,
  arn: (resource: string) => string,
): PolicyDocument => ({
  Version: "2012-10-17",
  Statement: [
    {
      Sid: "ConnectAsOwnThing",
      Effect: "Allow",
      Action: "iot:Connect",
      Resource: [arn(`client/${THING_NAME}`)],
      Condition: { Bool: { "iot:Connection.Thing.IsAttached": "true" } },
    },
    {
      Sid: "PublishOwnTopics",
      Effect: "Allow",
      Action: "iot:Publish",
      Resource: devicePublishTopics(prefix, THING_NAME, [sensorRule]).map((t) => arn(`topic/${t}`)),
    },
    {
      Sid: "SubscribeOwnCommandsShadowAndJobs",
      Effect: "Allow",
      Action: "iot:Subscribe",
      Resource: deviceSubscribeFilters(prefix, THING_NAME).map((f) => arn(`topicfilter/${f}`)),
    },
    {
      Sid: "ReceiveOwnCommandsShadowAndJobs",
      Effect: "Allow",
      Action: "iot:Receive",
      Resource: deviceReceiveTopics(prefix, THING_NAME).map((t) => arn(`topic/${t}`)),
    },
  ],
});

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
