import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { freemem, totalmem } from "node:os";

/** CPU temperature in °C from the kernel's thermal zone, or null where there is none. */
export const cpuTemperature = async (
  zone = "/sys/class/thermal/thermal_zone0/temp",
): Promise<number | null> => {
  try {
    const milli = Number((await readFile(zone, "utf8")).trim());
    return Number.isFinite(milli) ? Math.round(milli / 100) / 10 : null;
  } catch {
    return null;
  }
};

/**
 * Wi-Fi state as the OS tells it: connected when a wireless interface is up
 * (`/proc/net/wireless` lists it), SSID from `iwgetid -r` where installed.
 */
export const wifiState = async (): Promise<{ connected: boolean; ssid: string | null }> => {
  let connected = false;
  try {
    const lines = (await readFile("/proc/net/wireless", "utf8")).split("\n").slice(2);
    connected = lines.some((l) => l.trim().length > 0);
  } catch {
    connected = false;
  }
  if (!connected) return { connected, ssid: null };
  const ssid = await new Promise<string | null>((resolve) => {
    execFile("iwgetid", ["-r"], { timeout: 1_000 }, (error, stdout) =>
      resolve(error ? null : stdout.trim() || null),
    );
  });
  return { connected, ssid };
};

export const memory = () => {
  const m = process.memoryUsage();
  return {
    rss_bytes: m.rss,
    heap_used_bytes: m.heapUsed,
    system_free_bytes: freemem(),
    system_total_bytes: totalmem(),
  };
};
