/** What a registered device's `mqtt_publisher.toml` needs (`@medusa/device`'s config file). */
export interface AgentConfig {
  /** The account's IoT data endpoint (`…-ats.iot.<region>.amazonaws.com`). */
  readonly endpoint: string;
  /** Thing name = MQTT client id = device id = topic segment. */
  readonly thingName: string;
  readonly topicPrefix: string;
  /** Paths on the device. */
  readonly caPath: string;
  readonly certPath: string;
  readonly keyPath: string;
  readonly sampleRateHz: number;
  /** `publish.interval_ms`: one message per interval, the bill's dial. */
  readonly publishIntervalMs: number;
  /** `publish.basic_ingest_rule`: the stack's sensor rule, or null for the plain topic. */
  readonly basicIngestRule: string | null;
  readonly location: string;
  /** For the header comment: which certificate, when. */
  readonly certificateId: string;
  readonly generatedAt: string;
}

/** A TOML basic string: quotes, backslashes and control characters escaped. */
const str = (s: string): string => {
  let out = "";
  for (const c of s) {
    const code = c.charCodeAt(0);
    if (c === "\\" || c === '"') out += `\\${c}`;
    else if (code < 0x20 || code === 0x7f) out += `\\u${code.toString(16).padStart(4, "0")}`;
    else out += c;
  }
  return `"${out}"`;
};

/**
 * The agent's configuration for AWS IoT Core: mutual TLS on 8883 to the
 * account's endpoint, the thing name as client id (the device policy allows
 * no other), the deployment's topic prefix, one message per publish interval
 * and sensor data with Basic Ingest, the cheaper path (no messaging charge:
 * https://docs.aws.amazon.com/iot/latest/developerguide/iot-basic-ingest.html).
 * The agent's own defaults (1 s, the plain topic) stay what they were, so a
 * file written before means what it meant.
 */
export const agentConfigToml = (c: AgentConfig): string =>
  `# MeDUSA Link device agent, written by register-device at ${c.generatedAt}
# thing ${c.thingName}, certificate ${c.certificateId}
# Copy this file to /etc/medusa/mqtt_publisher.toml and the certificate files
# to the paths below (the private key readable by the agent only: chmod 600).

[mqtt]
broker_host = ${str(c.endpoint)}
broker_port = 8883
client_id = ${str(c.thingName)}
ca_cert = ${str(c.caPath)}
client_cert = ${str(c.certPath)}
client_key = ${str(c.keyPath)}
topic_prefix = ${str(c.topicPrefix)}

[sensor]
sample_rate_hz = ${c.sampleRateHz}
kind = "adxl345"

[device]
location = ${str(c.location)}

[publish]
# One message every ${c.publishIntervalMs / 1000} s: the interval sets the bill (docs/deploy.md, section 9).
interval_ms = ${c.publishIntervalMs}
${
  c.basicIngestRule === null
    ? ""
    : `# Sensor data straight to the stack's rule with Basic Ingest: no IoT messaging charge.
# Without this line it goes to ${c.topicPrefix}/${c.thingName}/sensor/data through the message broker.
basic_ingest_rule = ${str(c.basicIngestRule)}
`
}`;
