// medusa-launcher: the small, stable program systemd runs. It runs the agent's bundle, and it is
// what rolls an agent.update back when the new bundle crashes at start or does not connect in time:
// `node medusa-launcher.mjs /var/lib/medusa/agent/medusa-device.mjs --config /etc/medusa/mqtt_publisher.toml`.
// It is never replaced by an update. Node's own modules only.
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import {
  previousPath,
  readMarker,
  rollBack,
  type UpdateMarker,
  writeMarker,
} from "./bundle-update.js";

/** After asking the agent to stop (SIGTERM), how long before the launcher exits regardless. */
const STOP_GRACE_MS = 20_000;

const log = (level: string, msg: string, extra: Record<string, unknown> = {}) =>
  process.stdout.write(
    `${JSON.stringify({ time: new Date().toISOString(), level, component: "launcher", msg, ...extra })}\n`,
  );

/**
 * Decides what to run from the marker: a pending update past its deadline
 * or its attempts is rolled back now; else its attempt is counted and a
 * timer rolls it back at the deadline unless the new agent confirmed it.
 */
export const prepare = (bundle: string, now: number = Date.now()): UpdateMarker | undefined => {
  const marker = readMarker(bundle);
  if (marker?.state !== "pending") return marker;
  if (!existsSync(previousPath(bundle))) {
    log("error", "a pending update without the previous bundle: cannot roll back", {
      job_id: marker.jobId,
    });
    return marker;
  }
  if (marker.attempts >= marker.maxAttempts)
    return rollBack(
      bundle,
      marker,
      `version ${marker.to} started ${marker.attempts} times without connecting (it crashed or could not connect)`,
    );
  if (now >= marker.deadline)
    return rollBack(
      bundle,
      marker,
      `version ${marker.to} did not connect by ${new Date(marker.deadline).toISOString()}`,
    );
  const counted = { ...marker, attempts: marker.attempts + 1 };
  writeMarker(bundle, counted);
  return counted;
};

/** Rolls back at the deadline unless confirmed meanwhile; then has the agent stop, so that the restart runs the previous bundle. */
const armDeadline = (bundle: string, marker: UpdateMarker) => {
  const timer = setTimeout(
    () => {
      const now = readMarker(bundle);
      if (now?.state !== "pending" || now.jobId !== marker.jobId) return;
      const back = rollBack(
        bundle,
        now,
        `version ${now.to} did not connect by ${new Date(now.deadline).toISOString()}`,
      );
      log(
        "warn",
        "the new agent did not connect in time: the previous bundle is back, restarting",
        {
          job_id: back.jobId,
          reason: back.reason,
        },
      );
      process.kill(process.pid, "SIGTERM");
      setTimeout(() => process.exit(1), STOP_GRACE_MS).unref();
    },
    Math.max(0, marker.deadline - Date.now()),
  );
  timer.unref();
};

const main = async () => {
  const [bundleArg, ...rest] = process.argv.slice(2);
  if (bundleArg === undefined || bundleArg.startsWith("-")) {
    process.stderr.write("usage: medusa-launcher BUNDLE [agent arguments…]\n");
    process.exit(2);
  }
  const bundle = resolve(bundleArg);
  const marker = prepare(bundle);
  if (marker?.state === "rolled-back")
    log("warn", "running the previous bundle after a failed update", {
      job_id: marker.jobId,
      reason: marker.reason,
    });
  if (marker?.state === "pending") armDeadline(bundle, marker);
  // The agent reads its arguments as if it had been started itself, and knows its bundle.
  process.argv = [process.argv[0] as string, bundle, ...rest];
  process.env.MEDUSA_BUNDLE = bundle;
  try {
    await import(pathToFileURL(bundle).href);
  } catch (e) {
    // The new bundle does not even load: back to the previous one, in this process.
    const now = readMarker(bundle);
    if (now?.state === "pending" && existsSync(previousPath(bundle))) {
      const back = rollBack(
        bundle,
        now,
        `version ${now.to} failed to load: ${String(e)}`.slice(0, 900),
      );
      log("warn", "the new bundle failed to load: the previous bundle is back", {
        job_id: back.jobId,
        reason: back.reason,
      });
      await import(`${pathToFileURL(bundle).href}?rolled-back`);
      return;
    }
    throw e;
  }
};

if (process.argv[1] !== undefined && /medusa-launcher\.m?js$/.test(process.argv[1])) await main();
