import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Either } from "effect";
import { describe, expect, it } from "vitest";
import { configPath, describeConfig, loadConfig, parseConfig } from "./config.js";

const oldFile = `
[mqtt]
broker_host = "a1b2c3-ats.iot.eu-central-1.amazonaws.com"
broker_port = 8883
client_id = "medusa-pi-01"
ca_cert = "/etc/medusa/certs/AmazonRootCA1.pem"
client_cert = "/etc/medusa/certs/device.pem.crt"
client_key = "/etc/medusa/certs/private.pem.key"

[mqtt.topics]
sensor_data = "medusa/{device_id}/sensor/data"
status = "medusa/{device_id}/status"
device_info = "medusa/{device_id}/device/info"

[sensor]
sample_rate_hz = 10

[device]
location = "Ward 3, bed 12"
`;

const files = (entries: Record<string, string>, modes: Record<string, number> = {}) => {
  const written: Record<string, string> = {};
  return {
    written,
    fs: {
      read: (p: string) => written[p] ?? entries[p],
      write: (p: string, c: string) => {
        written[p] = c;
      },
      mode: (p: string) => modes[p],
    },
  };
};

const ok = (text: string, options: Parameters<typeof parseConfig>[2] = {}) =>
  Either.getOrThrow(
    parseConfig(text, "/etc/medusa/mqtt_publisher.toml", { fs: files({}).fs, ...options }),
  );
const error = (text: string, options: Parameters<typeof parseConfig>[2] = {}) => {
  const r = parseConfig(text, "/etc/medusa/mqtt_publisher.toml", { fs: files({}).fs, ...options });
  if (Either.isRight(r)) throw new Error("accepted");
  return r.left;
};

describe("device configuration", () => {
  it("reads the old publisher's file, with defaults for the new keys", () => {
    const c = ok(oldFile);
    expect(c.deviceId).toBe("medusa-pi-01");
    expect(c.deviceIdSource).toBe("client_id");
    expect(c.mqtt).toMatchObject({
      host: "a1b2c3-ats.iot.eu-central-1.amazonaws.com",
      port: 8883,
      protocolVersion: 4,
      keepaliveS: 30,
    });
    expect(c.topics).toMatchObject({
      sensorData: "medusa/medusa-pi-01/sensor/data",
      status: "medusa/medusa-pi-01/status",
      deviceInfo: "medusa/medusa-pi-01/device/info",
      commands: "medusa/medusa-pi-01/commands/#",
      commandResponse: "medusa/medusa-pi-01/commands/response",
    });
    expect(c.sensor).toMatchObject({
      kind: "adxl345",
      sampleRateHz: 10,
      i2cBus: 1,
      i2cAddress: 0x53,
    });
    expect(c.publishIntervalMs).toBe(1000);
    expect(c.statusIntervalMs).toBe(30000);
    expect(c.outbox.durability).toBe("batch");
    expect(c.device.location).toBe("Ward 3, bed 12");
    expect(c.warnings).toEqual([]);
  });

  it("lets the environment override connection settings", () => {
    const c = ok(oldFile, {
      env: {
        AWS_IOT_ENDPOINT: "other-ats.iot.us-east-1.amazonaws.com",
        AWS_IOT_CLIENT_ID: "thing-9",
        AWS_IOT_KEY_PATH: "/k.pem",
        AWS_IOT_CERT_PATH: "/c.pem",
        AWS_IOT_CA_PATH: "/ca.pem",
      },
    });
    expect(c.mqtt).toMatchObject({
      host: "other-ats.iot.us-east-1.amazonaws.com",
      clientId: "thing-9",
      keyPath: "/k.pem",
      certPath: "/c.pem",
      caPath: "/ca.pem",
    });
    expect(c.deviceId).toBe("thing-9");
  });

  it("names the file, the key and the problem", () => {
    expect(error(oldFile.replace("broker_port = 8883", "broker_port = 99999")).message).toBe(
      "/etc/medusa/mqtt_publisher.toml: mqtt.broker_port: must be a port between 1 and 65535",
    );
    expect(error(oldFile.replace("sample_rate_hz = 10", "sample_rate_hz = 1000")).key).toBe(
      "sensor.sample_rate_hz",
    );
    expect(
      error(oldFile.replace('client_key = "/etc/medusa/certs/private.pem.key"', "")).message,
    ).toMatch(/mqtt.client_key: is required/);
    expect(error(oldFile.replace("{device_id}/status", "status")).key).toBe("mqtt.topics.status");
    expect(
      error(oldFile.replace('client_id = "medusa-pi-01"', 'client_id = "bad/id"')).message,
    ).toMatch(/mqtt.client_id: "bad\/id" is not a valid device id/);
    expect(error("[mqtt\nbroker").message).toMatch(/not valid TOML/);
    expect(error(`${oldFile}\n[sensor]\nkind = "bmi160"`).message).toMatch(/TOML/); // duplicate table
  });

  it("wants whole numbers for seconds, milliseconds and bytes, as the agent uses them", () => {
    expect(
      error(oldFile.replace("broker_port = 8883", "broker_port = 8883\nkeepalive_s = 30.5"))
        .message,
    ).toBe("/etc/medusa/mqtt_publisher.toml: mqtt.keepalive_s: keepalive_s must be a whole number");
    expect(error(`${oldFile}\n[publish]\ninterval_ms = 150.5`).message).toBe(
      "/etc/medusa/mqtt_publisher.toml: publish.interval_ms: interval_ms must be a whole number",
    );
    for (const [table, key] of [
      ["mqtt", "backoff_base_ms"],
      ["mqtt", "backoff_cap_ms"],
      ["publish", "status_interval_ms"],
      ["outbox", "max_bytes"],
    ] as const) {
      const text =
        table === "mqtt"
          ? oldFile.replace("broker_port = 8883", `broker_port = 8883\n${key} = 100000.5`)
          : `${oldFile}\n[${table}]\n${key} = 100000.5`;
      expect(error(text).key).toBe(`${table}.${key}`);
    }
    expect(ok(`${oldFile}\n[publish]\ninterval_ms = 150`).publishIntervalMs).toBe(150);
    expect(
      ok(oldFile.replace("sample_rate_hz = 10", "sample_rate_hz = 12.5")).sensor.sampleRateHz,
    ).toBe(12.5);
  });

  it("warns about unknown keys and a private key readable by others", () => {
    const { fs } = files({}, { "/etc/medusa/certs/private.pem.key": 0o100644 });
    const c = ok(`${oldFile}\n[logging]\nlevel = "debug"`, { fs });
    expect(c.warnings).toEqual([
      "/etc/medusa/mqtt_publisher.toml: logging: unknown key, ignored",
      "/etc/medusa/mqtt_publisher.toml: mqtt.client_key: /etc/medusa/certs/private.pem.key is readable by group or others (mode 644); run chmod 600",
    ]);
  });

  it('device_id = "auto" creates a UUID once and keeps it', () => {
    const store = files({});
    const auto = oldFile.replace(
      "[device]",
      '[device]\ndevice_id = "auto"\ndevice_id_file = "/data/medusa/device_id"',
    );
    const first = ok(auto, { fs: store.fs, newId: () => "6f1c7f3e-0d7e-4a57-9a55-3a3e2c1d0b9a" });
    expect(first.deviceId).toBe("6f1c7f3e-0d7e-4a57-9a55-3a3e2c1d0b9a");
    expect(first.deviceIdSource).toBe("auto");
    expect(store.written["/data/medusa/device_id"]).toBe("6f1c7f3e-0d7e-4a57-9a55-3a3e2c1d0b9a\n");
    const second = ok(auto, { fs: store.fs, newId: () => "another" });
    expect(second.deviceId).toBe("6f1c7f3e-0d7e-4a57-9a55-3a3e2c1d0b9a");
    expect(second.topics.sensorData).toBe(
      "medusa/6f1c7f3e-0d7e-4a57-9a55-3a3e2c1d0b9a/sensor/data",
    );
  });

  it("sends sensor data with Basic Ingest to the rule publish.basic_ingest_rule names; everything else on its plain topic", () => {
    const c = ok(`${oldFile}\n[publish]\nbasic_ingest_rule = "medusa_prod_sensor_data"`);
    expect(c.topics).toEqual({
      prefix: "medusa",
      sensorData: "$aws/rules/medusa_prod_sensor_data/medusa/medusa-pi-01/sensor/data",
      basicIngestRule: "medusa_prod_sensor_data",
      status: "medusa/medusa-pi-01/status",
      deviceInfo: "medusa/medusa-pi-01/device/info",
      commands: "medusa/medusa-pi-01/commands/#",
      commandResponse: "medusa/medusa-pi-01/commands/response",
    });
    // --check shows the topic it will use.
    expect(describeConfig(c)).toContain(
      "topics             $aws/rules/medusa_prod_sensor_data/medusa/medusa-pi-01/sensor/data (Basic Ingest: to rule medusa_prod_sensor_data only, no messaging charge), medusa/medusa-pi-01/status,",
    );
    // With another prefix, the prefix is part of the topic behind the rule's.
    expect(
      ok(
        `${oldFile.replace(/medusa\/\{device_id\}/g, "clinic-a/{device_id}").replace('client_key = "/etc/medusa/certs/private.pem.key"', 'client_key = "/etc/medusa/certs/private.pem.key"\ntopic_prefix = "clinic-a"')}\n[publish]\nbasic_ingest_rule = "r"`,
      ).topics.sensorData,
    ).toBe("$aws/rules/r/clinic-a/medusa-pi-01/sensor/data");
    // Absent: the plain topic, as every existing file has it.
    expect(ok(oldFile).topics.basicIngestRule).toBeNull();
  });

  it("takes only AWS rule names, and Basic Ingest only for the standard sensor data topic", () => {
    for (const bad of ["medusa-ingest", "a/b", "", "x".repeat(129)])
      expect(
        error(`${oldFile}\n[publish]\nbasic_ingest_rule = ${JSON.stringify(bad)}`).message,
      ).toBe(
        "/etc/medusa/mqtt_publisher.toml: publish.basic_ingest_rule: an AWS IoT rule name is 1-128 characters of [a-zA-Z0-9_] (no - or /)",
      );
    expect(
      error(
        `${oldFile.replace('sensor_data = "medusa/{device_id}/sensor/data"', 'sensor_data = "medusa/{device_id}/accel"')}\n[publish]\nbasic_ingest_rule = "r"`,
      ).message,
    ).toBe(
      '/etc/medusa/mqtt_publisher.toml: publish.basic_ingest_rule: Basic Ingest carries only this device\'s sensor data on its standard topic (medusa/medusa-pi-01/sensor/data, the one an IoT policy grants behind $aws/rules/r/), not "medusa/medusa-pi-01/accel" (mqtt.topics.sensor_data)',
    );
  });

  it("syncs the thing's shadow unless shadow.enabled = false (a broker without a shadow service); --check says which", () => {
    const on = ok(oldFile);
    expect(on.shadow).toEqual({ enabled: true });
    expect(describeConfig(on)).toContain(
      "shadow             synced ($aws/things/medusa-pi-01/shadow/…)",
    );
    const off = ok(`${oldFile}\n[shadow]\nenabled = false`);
    expect(off.shadow).toEqual({ enabled: false });
    expect(off.warnings).toEqual([]);
    expect(describeConfig(off)).toContain("shadow             off (shadow.enabled = false)");
    expect(error(`${oldFile}\n[shadow]\nenabled = "no"`).message).toMatch(
      /^\/etc\/medusa\/mqtt_publisher.toml: shadow.enabled: /,
    );
    expect(ok(`${oldFile}\n[shadow]\nenable = false`).warnings.join()).toContain("shadow.enable");
  });

  it("takes the path from --config, then MEDUSA_CONFIG, then the default", () => {
    expect(configPath(["--config", "/a.toml"], { MEDUSA_CONFIG: "/b.toml" })).toBe("/a.toml");
    expect(configPath(["--config=/c.toml"], {})).toBe("/c.toml");
    expect(configPath([], { MEDUSA_CONFIG: "/b.toml" })).toBe("/b.toml");
    expect(configPath([], {})).toBe("/etc/medusa/mqtt_publisher.toml");
  });

  it("describes the resolved configuration without secrets", () => {
    const text = describeConfig(ok(oldFile));
    expect(text).toMatch(/device id +medusa-pi-01 \(from client_id\)/);
    expect(text).toMatch(/contents never printed/);
  });

  it("resolves relative paths in the file against the file's folder, absolute ones stay", () => {
    const text = oldFile
      .replace('"/etc/medusa/certs/AmazonRootCA1.pem"', '"certs/AmazonRootCA1.pem"')
      .replace('"/etc/medusa/certs/device.pem.crt"', '"../shared/device.pem.crt"')
      .replace(
        "[device]",
        '[outbox]\npath = "outbox"\n\n[device]\ndevice_id = "auto"\ndevice_id_file = "id"',
      );
    const { fs } = files({ "/home/pi/medusa/conf/mqtt_publisher.toml": text });
    const c = Either.getOrThrow(
      loadConfig("conf/mqtt_publisher.toml", { fs, cwd: "/home/pi/medusa", newId: () => "u-1" }),
    );
    expect(c.file).toBe("/home/pi/medusa/conf/mqtt_publisher.toml");
    expect(c.mqtt).toMatchObject({
      caPath: "/home/pi/medusa/conf/certs/AmazonRootCA1.pem",
      certPath: "/home/pi/medusa/shared/device.pem.crt",
      keyPath: "/etc/medusa/certs/private.pem.key",
    });
    expect(c.outbox.path).toBe("/home/pi/medusa/conf/outbox");
    expect(c.deviceId).toBe("u-1");
    // What --check shows is what the agent opens.
    expect(describeConfig(c)).toContain(
      "ca certificate     /home/pi/medusa/conf/certs/AmazonRootCA1.pem",
    );
  });

  it("resolves relative paths from the environment against the working directory", () => {
    const c = ok(oldFile, { env: { AWS_IOT_KEY_PATH: "keys/pi.key" }, cwd: "/srv" });
    expect(c.mqtt.keyPath).toBe("/srv/keys/pi.key");
    expect(c.mqtt.caPath).toBe("/etc/medusa/certs/AmazonRootCA1.pem");
  });

  it("shows the resolved path and the reason when the file cannot be read", () => {
    const dir = mkdtempSync(join(tmpdir(), "medusa-config-"));
    try {
      const missing = loadConfig("missing.toml", { cwd: dir });
      expect(Either.isLeft(missing) && missing.left.message).toBe(
        `${dir}/missing.toml: cannot read the file: ENOENT: no such file or directory`,
      );
      const folder = loadConfig(".", { cwd: dir });
      expect(Either.isLeft(folder) && folder.left.message).toBe(
        `${dir}: cannot read the file: EISDIR: illegal operation on a directory`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
