import { readFileSync } from "node:fs";
import { dirname } from "node:path";
import { Either } from "effect";
import { describe, expect, it } from "vitest";
import { DEFAULT_CONFIG_PATH, parseConfig } from "./config.js";
import { DEFAULT_DEVICE_ID_FILE } from "./config-file.js";

const unit = readFileSync(new URL("../deploy/medusa-device.service", import.meta.url), "utf8");
const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
const values = (key: string) =>
  [...unit.matchAll(new RegExp(`^${key}=(.*)$`, "gm"))].map((m) => (m[1] as string).trim());
const one = (key: string) => {
  const found = values(key);
  expect(found, key).toHaveLength(1);
  return found[0] as string;
};
// The agent's defaults: the old publisher's file sets none of the paths.
const defaults = Either.getOrThrow(
  parseConfig(
    readFileSync(new URL("../examples/mqtt_publisher.toml", import.meta.url), "utf8"),
    DEFAULT_CONFIG_PATH,
    { env: {}, fs: { read: () => undefined, write: () => {}, mode: () => undefined } },
  ),
);

describe("the systemd unit", () => {
  it("runs the bundle through the launcher on the agent's default configuration file", () => {
    const exec = one("ExecStart").split(/\s+/);
    expect(exec.slice(0, 3)).toEqual([
      "/usr/bin/node",
      "/opt/medusa/medusa-launcher.mjs",
      "/var/lib/medusa/agent/medusa-device.mjs",
    ]);
    // The running copy is seeded from the installed bundle, inside the state directory (agent.update writes it).
    expect(one("ExecStartPre")).toContain(
      "install -D -m 0755 /opt/medusa/medusa-device.mjs /var/lib/medusa/agent/medusa-device.mjs",
    );
    expect(exec[2]?.startsWith(`/var/lib/${one("StateDirectory")}/`)).toBe(true);
    expect(exec[exec.indexOf("--config") + 1]).toBe(DEFAULT_CONFIG_PATH);
    // The README's installation puts the files where the unit looks for them.
    expect(readme).toContain(
      "/opt/medusa/medusa-device.mjs --config /etc/medusa/mqtt_publisher.toml",
    );
  });

  it("lets the agent write where its defaults put the outbox and the auto device id", () => {
    const state = `/var/lib/${one("StateDirectory")}`;
    expect(defaults.outbox.path.startsWith(`${state}/`)).toBe(true);
    expect(one("ProtectSystem")).toBe("strict");
    const writable = values("ReadWritePaths")
      .flatMap((v) => v.split(/\s+/))
      .map((p) => p.replace(/^-/, ""));
    expect(writable).toContain(state);
    expect(writable).toContain(dirname(DEFAULT_DEVICE_ID_FILE));
  });

  it("may open the default I2C bus", () => {
    expect(one("SupplementaryGroups")).toBe("i2c");
    expect(values("DeviceAllow")).toContain(`/dev/i2c-${defaults.sensor.i2cBus} rw`);
  });

  it("stops the agent with SIGTERM, gives it longer than its stop takes, restarts it", () => {
    expect(one("KillSignal")).toBe("SIGTERM");
    // Agent.stop waits up to 2 s for PUBACKs, the transport up to 3 s for a clean DISCONNECT.
    expect(Number(one("TimeoutStopSec"))).toBeGreaterThanOrEqual(10);
    expect(one("Restart")).toBe("always");
    expect(Number(one("RestartSec"))).toBeGreaterThan(0);
    expect(one("NoNewPrivileges")).toBe("yes");
  });
});
