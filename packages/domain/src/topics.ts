import { Option, Schema } from "effect";
import { DeviceId } from "./ids.js";

export const DEVICE_ID_PLACEHOLDER = "{device_id}";
export const DEFAULT_TOPIC_PREFIX = "medusa";

export class InvalidTopicTemplate extends Schema.TaggedError<InvalidTopicTemplate>()(
  "InvalidTopicTemplate",
  { template: Schema.String, reason: Schema.String },
) {
  override get message(): string {
    return `topic template "${this.template}": ${this.reason}`;
  }
}

/**
 * Checks a template such as `medusa/{device_id}/sensor/data`: `{device_id}`
 * exactly once, as a whole level, and no wildcards.
 */
export const validateTemplate = (template: string): InvalidTopicTemplate | undefined => {
  const levels = template.split("/");
  const placeholders = levels.filter((l) => l === DEVICE_ID_PLACEHOLDER).length;
  if (placeholders !== 1 || template.split(DEVICE_ID_PLACEHOLDER).length !== 2) {
    return new InvalidTopicTemplate({
      template,
      reason: "must contain {device_id} exactly once, as a whole topic level",
    });
  }
  if (/[+#]/.test(template) || template.includes("\u0000")) {
    return new InvalidTopicTemplate({ template, reason: "must not contain + # or NUL" });
  }
  if (levels.some((l) => l === "")) {
    return new InvalidTopicTemplate({ template, reason: "must not have empty levels" });
  }
  return undefined;
};

/**
 * The topic for a device. The `DeviceId` brand guarantees the id has no `/`,
 * `+` or `#`, so it fills exactly one level.
 */
export const topicFor = (template: string, deviceId: DeviceId): string => {
  const error = validateTemplate(template);
  if (error) throw error;
  return template.replace(DEVICE_ID_PLACEHOLDER, deviceId);
};

const isDeviceId = Schema.is(DeviceId);

/** The device id in a topic built from `template`, if the topic has that shape. */
export const parseDeviceId = (template: string, topic: string): Option.Option<DeviceId> => {
  const t = template.split("/");
  const l = topic.split("/");
  if (t.length !== l.length) return Option.none();
  let id: string | undefined;
  for (let i = 0; i < t.length; i++) {
    if (t[i] === DEVICE_ID_PLACEHOLDER) id = l[i];
    else if (t[i] !== l[i]) return Option.none();
  }
  return id !== undefined && isDeviceId(id) ? Option.some(id) : Option.none();
};

/** The MQTT filter matching this template for every device: `{device_id}` becomes `+`. */
export const filterFor = (template: string): string => template.replace(DEVICE_ID_PLACEHOLDER, "+");

/**
 * MQTT topic filter matching (MQTT 3.1.1 §4.7): `+` matches one level, `#` the
 * rest (including the parent level); topics starting with `$` are not matched
 * by a wildcard in the first level.
 */
export const topicMatches = (filter: string, topic: string): boolean => {
  const f = filter.split("/");
  const t = topic.split("/");
  if (topic.startsWith("$") && (f[0] === "+" || f[0] === "#")) return false;
  for (let i = 0; i < f.length; i++) {
    const level = f[i];
    if (level === "#") return i === f.length - 1;
    if (i >= t.length) return false;
    if (level !== "+" && level !== t[i]) return false;
  }
  return f.length === t.length;
};

/**
 * An AWS IoT rule name, as CreateTopicRule takes it: 1–128 characters of
 * `[a-zA-Z0-9_]` (no `-`, no `/`), so it fills exactly one topic level.
 * https://docs.aws.amazon.com/iot/latest/apireference/API_CreateTopicRule.html
 */
export const RuleName = Schema.String.pipe(
  Schema.pattern(/^[a-zA-Z0-9_]{1,128}$/, {
    message: () => "an AWS IoT rule name is 1-128 characters of [a-zA-Z0-9_] (no - or /)",
  }),
);

const isRuleName = Schema.is(RuleName);

export class InvalidRuleName extends Schema.TaggedError<InvalidRuleName>()("InvalidRuleName", {
  rule: Schema.String,
}) {
  override get message(): string {
    return `"${this.rule}" is not an AWS IoT rule name (1-128 characters of [a-zA-Z0-9_])`;
  }
}

/**
 * Basic Ingest (https://docs.aws.amazon.com/iot/latest/developerguide/iot-basic-ingest.html):
 * a publish to `$aws/rules/{rule}/{topic}` goes to the rule `{rule}` only,
 * skipping the message broker (no messaging charge, no subscriber gets it),
 * and the rule's `topic()` returns `{topic}`, without the prefix.
 */
export const BASIC_INGEST_PREFIX = "$aws/rules/";

/** `topic` behind the Basic Ingest prefix of `rule`; throws `InvalidRuleName` for a name AWS refuses. */
export const basicIngestTopic = (rule: string, topic: string): string => {
  if (!isRuleName(rule)) throw new InvalidRuleName({ rule });
  return `${BASIC_INGEST_PREFIX}${rule}/${topic}`;
};

/**
 * A Basic Ingest topic's rule, and the topic as that rule's `topic()` gives
 * it; none for a topic outside `$aws/rules/` or one with no rule name or no
 * topic after it.
 */
export const parseBasicIngestTopic = (
  topic: string,
): Option.Option<{ readonly rule: string; readonly topic: string }> => {
  if (!topic.startsWith(BASIC_INGEST_PREFIX)) return Option.none();
  const rest = topic.slice(BASIC_INGEST_PREFIX.length);
  const slash = rest.indexOf("/");
  if (slash <= 0 || slash === rest.length - 1) return Option.none();
  return Option.some({ rule: rest.slice(0, slash), topic: rest.slice(slash + 1) });
};

/** Every topic a device uses, for one prefix (default `medusa`). */
export interface DeviceTopics {
  readonly sensorData: string;
  readonly status: string;
  readonly deviceInfo: string;
  /** Filter the device subscribes to. */
  readonly commands: string;
  readonly commandResponse: string;
}

export const topicTemplates = (prefix: string = DEFAULT_TOPIC_PREFIX) => ({
  sensorData: `${prefix}/${DEVICE_ID_PLACEHOLDER}/sensor/data`,
  status: `${prefix}/${DEVICE_ID_PLACEHOLDER}/status`,
  deviceInfo: `${prefix}/${DEVICE_ID_PLACEHOLDER}/device/info`,
  commands: `${prefix}/${DEVICE_ID_PLACEHOLDER}/commands`,
  commandResponse: `${prefix}/${DEVICE_ID_PLACEHOLDER}/commands/response`,
});

export const deviceTopics = (
  deviceId: DeviceId,
  prefix: string = DEFAULT_TOPIC_PREFIX,
): DeviceTopics => {
  const t = topicTemplates(prefix);
  return {
    sensorData: topicFor(t.sensorData, deviceId),
    status: topicFor(t.status, deviceId),
    deviceInfo: topicFor(t.deviceInfo, deviceId),
    commands: `${topicFor(t.commands, deviceId)}/#`,
    commandResponse: topicFor(t.commandResponse, deviceId),
  };
};
