import { readFileSync } from "node:fs";
import { Either } from "effect";
import { describe, expect, it } from "vitest";
import { DEFAULT_CONFIG_PATH, type LoadOptions, parseConfig } from "./config.js";

// Every configuration the older publisher's guide shows (examples/older-guide/), read as it is.
const read = (name: string) =>
  readFileSync(new URL(`../examples/${name}`, import.meta.url), "utf8");
const oldFile = read("mqtt_publisher.toml");

const UUID = "6f1c7f3e-0d7e-4a57-9a55-3a3e2c1d0b9a";
const noFiles = (files: Record<string, string> = {}) => ({
  read: (path: string) => files[path],
  write: () => {},
  mode: () => undefined,
});
const parse = (text: string, options: LoadOptions = {}) =>
  parseConfig(text, DEFAULT_CONFIG_PATH, { env: {}, fs: noFiles(), ...options });
const accepted = (text: string, options: LoadOptions = {}) =>
  Either.getOrThrow(parse(text, options));
const refused = (text: string, options: LoadOptions = {}) => {
  const r = parse(text, options);
  if (Either.isRight(r)) throw new Error("accepted");
  return r.left;
};

const ENVIRONMENT = {
  AWS_IOT_ENDPOINT: "a1b2c3d4e5f6g7-ats.iot.eu-central-1.amazonaws.com",
  AWS_IOT_CLIENT_ID: "medusa-pi-01",
  AWS_IOT_CA_PATH: "/etc/medusa/certs/AmazonRootCA1.pem",
  AWS_IOT_CERT_PATH: "/etc/medusa/certs/device.pem.crt",
  AWS_IOT_KEY_PATH: "/etc/medusa/certs/private.pem.key",
};

describe("the older guide's configurations", () => {
  const expected = accepted(oldFile);

  it("topics with {device_id} (examples/mqtt_publisher.toml) are this device's own topics", () => {
    expect(expected.topics).toEqual({
      prefix: "medusa",
      sensorData: "medusa/medusa-pi-01/sensor/data",
      status: "medusa/medusa-pi-01/status",
      deviceInfo: "medusa/medusa-pi-01/device/info",
      commands: "medusa/medusa-pi-01/commands/#",
      commandResponse: "medusa/medusa-pi-01/commands/response",
      // Existing files keep their meaning: sensor data on its plain topic.
      basicIngestRule: null,
    });
  });

  it("topics written out in full, naming this device, mean the same as the templates", () => {
    expect(accepted(read("older-guide/literal-topics.toml"))).toEqual(expected);
  });

  it("no [mqtt.topics] at all means the same", () => {
    expect(accepted(read("older-guide/no-topics.toml"))).toEqual(expected);
  });

  it("the connection from the environment, topics in full, means the same", () => {
    expect(accepted(read("older-guide/environment.toml"), { env: ENVIRONMENT })).toEqual(expected);
  });

  it('device_id = "auto" keeps the UUID in the topics', () => {
    const c = accepted(read("older-guide/auto-id.toml"), {
      fs: noFiles({ "/data/medusa/device_id": `${UUID}\n` }),
    });
    expect(c.deviceId).toBe(UUID);
    expect(c.topics.sensorData).toBe(`medusa/${UUID}/sensor/data`);
    expect(c.mqtt.clientId).toBe("medusa-pi-01");
  });

  it("refuses topics in full that name another device, naming the key and the reason", () => {
    expect(refused(read("older-guide/another-device.toml")).message).toBe(
      `${DEFAULT_CONFIG_PATH}: mqtt.topics.sensor_data: "medusa/medusa-pi-02/sensor/data" names device "medusa-pi-02" at the device level (the one after "medusa"), not this device (medusa-pi-01, from the client id); an IoT policy bound to the thing name refuses another device's topics. Write "medusa/{device_id}/sensor/data", or this device's own topic`,
    );
  });

  it("refuses topics in full that the IoT policy bound to the thing name would refuse", () => {
    expect(refused(read("older-guide/outside-policy.toml")).message).toBe(
      `${DEFAULT_CONFIG_PATH}: mqtt.topics.sensor_data: "medusa/medusa-pi-01/accelerometer" is not a topic an IoT policy bound to the thing name lets medusa-pi-01 publish to; with topic_prefix "medusa" those are medusa/medusa-pi-01/sensor/data, medusa/medusa-pi-01/status, medusa/medusa-pi-01/device/info, medusa/medusa-pi-01/commands/response (or write the topic with {device_id})`,
    );
    // Another prefix than topic_prefix, no device level, a wildcard.
    const literal = read("older-guide/literal-topics.toml");
    for (const [topic, problem] of [
      ["sensors/medusa-pi-01/sensor/data", /is not a topic an IoT policy .* lets medusa-pi-01/],
      [
        "medusa/sensor/data",
        /names device "sensor" at the device level \(the one after "medusa"\), not this device/,
      ],
      ["medusa/medusa-pi-01/#", /must not contain \+ # or NUL/],
      ["$aws/things/medusa-pi-01/shadow/update", /is not a topic an IoT policy/],
    ] as const) {
      const error = refused(literal.replace("medusa/medusa-pi-01/status", topic));
      expect(error.key).toBe("mqtt.topics.status");
      expect(error.message).toMatch(problem);
    }
  });

  it("refuses topics in full that name the thing when the environment's client id is another", () => {
    const error = refused(read("older-guide/environment.toml"), {
      env: { ...ENVIRONMENT, AWS_IOT_CLIENT_ID: "medusa-pi-07" },
    });
    expect(error.key).toBe("mqtt.topics.sensor_data");
    expect(error.message).toMatch(
      /names device "medusa-pi-01" at the device level .*, not this device \(medusa-pi-07/,
    );
  });

  it('refuses topics in full naming the client id when device_id = "auto" puts the UUID in the topics', () => {
    const text = read("older-guide/literal-topics.toml").replace(
      "[device]",
      '[device]\ndevice_id = "auto"',
    );
    const error = refused(text, { fs: noFiles({ "/data/medusa/device_id": UUID }) });
    expect(error.message).toMatch(
      new RegExp(
        `mqtt.topics.sensor_data: "medusa/medusa-pi-01/sensor/data" names device "medusa-pi-01" at the device level \\(the one after "medusa"\\), not this device \\(${UUID}, from device_id = "auto"\\)`,
      ),
    );
  });

  it("follows topic_prefix for topics in full", () => {
    const text = read("older-guide/literal-topics.toml")
      .replaceAll('"medusa/', '"clinic/site-3/')
      .replace("broker_port = 8883", 'broker_port = 8883\ntopic_prefix = "clinic/site-3"');
    expect(accepted(text).topics.sensorData).toBe("clinic/site-3/medusa-pi-01/sensor/data");
  });
});
