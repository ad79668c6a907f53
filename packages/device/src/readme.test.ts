import { readFileSync } from "node:fs";
import {
  CommandResponse,
  DEFAULT_TOPIC_PREFIX,
  DeviceInfo,
  DeviceStatus,
  devicePublishTopics,
  deviceSubscribeFilters,
  parseDeviceCommand,
  parseSensorPayload,
} from "@medusa/domain";
import { Either, Schema } from "effect";
import { parse as parseToml } from "smol-toml";
import { describe, expect, it } from "vitest";
import { DEFAULT_CONFIG_PATH, describeConfig, ENV_OVERRIDES, parseConfig } from "./config.js";
import { CONFIG_KEYS } from "./config-file.js";

const read = (path: string) => readFileSync(new URL(path, import.meta.url), "utf8");
const readme = read("../README.md");
const oldFile = read("../examples/mqtt_publisher.toml");
const everyKey = read("../examples/every-key.toml");

const noFiles = { read: () => undefined, write: () => {}, mode: () => undefined };
const parse = (text: string) =>
  Either.getOrThrow(parseConfig(text, DEFAULT_CONFIG_PATH, { env: {}, fs: noFiles }));

/** Every key the agent reads, as a dotted path (`mqtt.topics.status`); tables left out. */
const leafKeys = Object.entries(CONFIG_KEYS).flatMap(([table, keys]) =>
  keys.filter((k) => !(`${table}.${k}` in CONFIG_KEYS)).map((k) => `${table}.${k}`),
);
const keysOf = (o: Record<string, unknown>, prefix = ""): Array<string> =>
  Object.entries(o).flatMap(([k, v]) => {
    const path = prefix ? `${prefix}.${k}` : k;
    return v && typeof v === "object" && !Array.isArray(v)
      ? keysOf(v as Record<string, unknown>, path)
      : [path];
  });

describe("the README", () => {
  it("shows the example and both configuration files verbatim", () => {
    for (const file of ["../examples/try-locally.ts", oldFile, everyKey]) {
      const text = file.startsWith("../") ? read(file) : file;
      expect(readme).toContain(text.trim());
    }
  });

  it("the old publisher's file and the every-key file mean the same, without a warning", () => {
    const old = parse(oldFile);
    const every = parse(everyKey);
    expect(old.warnings).toEqual([]);
    expect(every.warnings).toEqual([]);
    expect(every).toEqual(old);
  });

  it("has every key in the every-key file and in the table, and every environment override", () => {
    // device_id and basic_ingest_rule are commented out there: set, they change what the agent does.
    expect(keysOf(parseToml(everyKey)).sort()).toEqual(
      leafKeys
        .filter(
          (k) =>
            k !== "device.device_id" &&
            k !== "publish.basic_ingest_rule" &&
            k !== "jobs.update_ca_file" &&
            !k.startsWith("provisioning."),
        )
        .sort(),
    );
    expect(everyKey).toContain('# device_id = "auto"');
    expect(everyKey).toContain('# basic_ingest_rule = "');
    for (const key of leafKeys) expect(readme).toContain(`| \`${key}\` |`);
    for (const [variable, key] of Object.entries(ENV_OVERRIDES))
      expect(readme).toContain(`| \`${variable}\` | \`${key}\``);
  });

  it("shows what --check prints for the old publisher's file", () => {
    expect(readme).toContain(describeConfig(parse(oldFile)));
  });

  it("shows a configuration error as the agent prints it", () => {
    const refused = parseConfig(
      oldFile.replace("broker_port = 8883", "broker_port = 99999"),
      DEFAULT_CONFIG_PATH,
      { env: {}, fs: noFiles },
    );
    if (Either.isRight(refused)) throw new Error("accepted");
    expect(readme).toContain(`medusa-device: ${refused.left.message}`);
  });

  it("shows wire examples the domain's schemas accept", () => {
    const decoders: Record<string, (json: string) => boolean> = {
      "sensor-data": (json) => Either.isRight(parseSensorPayload(json)),
      status: (json) => Either.isRight(Schema.decodeUnknownEither(DeviceStatus)(JSON.parse(json))),
      "device-info": (json) =>
        Either.isRight(Schema.decodeUnknownEither(DeviceInfo)(JSON.parse(json))),
      command: (json) => Either.isRight(parseDeviceCommand(json)),
      response: (json) =>
        Either.isRight(Schema.decodeUnknownEither(CommandResponse)(JSON.parse(json))),
    };
    const examples = [...readme.matchAll(/<!-- wire: ([a-z-]+) -->\n```json\n(.*?)\n```/gs)];
    expect(new Set(examples.map((m) => m[1]))).toEqual(new Set(Object.keys(decoders)));
    for (const [, kind, json] of examples) {
      expect(decoders[kind as string]?.(json as string), `${kind}: ${json}`).toBe(true);
    }
  });

  it("shows the refusal of topics written out for another device as the agent prints it", () => {
    const refused = parseConfig(
      read("../examples/older-guide/another-device.toml"),
      DEFAULT_CONFIG_PATH,
      {
        env: {},
        fs: noFiles,
      },
    );
    if (Either.isRight(refused)) throw new Error("accepted");
    expect(readme).toContain(`medusa-device: ${refused.left.message}`);
  });

  it("gives Mosquitto the ACL lines the IoT policy's rights make, and certificates as user names", () => {
    const block = (name: string) => {
      const m = new RegExp(`<!-- mosquitto: ${name} -->\n\`\`\`conf\n(.*?)\n\`\`\``, "s").exec(
        readme,
      );
      if (!m) throw new Error(`no mosquitto ${name} block`);
      return (m[1] as string).split("\n").filter((l) => l.trim() !== "");
    };
    // %u is the certificate's CN: the thing name the policy binds. Mosquitto serves no shadow.
    const own = (topics: ReadonlyArray<string>) => topics.filter((t) => !t.startsWith("$aws/"));
    expect(block("acl").sort()).toEqual(
      [
        ...own(devicePublishTopics(DEFAULT_TOPIC_PREFIX, "%u")).map((t) => `pattern write ${t}`),
        ...own(deviceSubscribeFilters(DEFAULT_TOPIC_PREFIX, "%u")).map((t) => `pattern read ${t}`),
      ].sort(),
    );
    expect(block("listener")).toEqual(
      expect.arrayContaining([
        "require_certificate true",
        "use_identity_as_username true",
        "allow_anonymous false",
        "acl_file /etc/mosquitto/medusa.acl",
      ]),
    );
  });
});
