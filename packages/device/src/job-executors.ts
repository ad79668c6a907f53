// What each job does on the device: config.set, agent.restart, outbox.flush, agent.update, certificate.rotate.
import { existsSync } from "node:fs";
import type { SampleOutboxService } from "@medusa/adapters/outbox";
import type { DeviceSettings, SettingRefusal } from "@medusa/domain";
import {
  DownloadFailed,
  downloadBundle,
  installBundle,
  readMarker,
  removeMarker,
  sha256Hex,
  writeMarker,
} from "./bundle-update.js";
import type { certificateRotation } from "./certificate-rotation.js";
import type { DeviceConfig } from "./config.js";
import { errorText } from "./errors.js";
import type { AgentJob } from "./job-document.js";
import type { JobContext, JobOutcome, JobReport } from "./jobs-client.js";
import type { JobExecution } from "./jobs-protocol.js";
import type { ApplyOutcome } from "./shadow-sync.js";

/** How long outbox.flush waits for the PUBACKs of what the outbox held, at most. */
export const OUTBOX_FLUSH_WAIT_MS = 60_000;
/** A new bundle gets this many starts to connect before the launcher restores the previous one. */
export const UPDATE_MAX_ATTEMPTS = 3;

export interface JobExecutorDeps {
  readonly config: DeviceConfig;
  readonly firmwareVersion: string;
  /** The bundle the launcher runs (`MEDUSA_BUNDLE`); none when not started by the launcher. */
  readonly bundle: string | undefined;
  readonly outbox: SampleOutboxService;
  readonly applySettings: (settings: DeviceSettings) => Promise<ApplyOutcome>;
  /** Publishes what the outbox holds (the publisher's pump). */
  readonly pump: () => void;
  readonly now: () => number;
  readonly log: (line: string) => void;
  readonly flushWaitMs?: number;
  /** certificate.rotate (without it, such a job is REJECTED). */
  readonly rotation?: ReturnType<typeof certificateRotation>;
}

const done = (status: JobReport["status"], details: Record<string, string>): JobOutcome => ({
  kind: "done",
  report: { status, details },
});
const refusalText = (refused: ReadonlyArray<SettingRefusal>) =>
  refused.map((r) => `${r.setting || "settings"}: ${r.reason}`).join("; ");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The executors of the four job types, and how each resumes after a restart. */
export const jobExecutors = (deps: JobExecutorDeps) => {
  const configSet = async (job: Extract<AgentJob, { operation: "config.set" }>) => {
    const outcome = await deps.applySettings(job.settings);
    const refused = [...job.refused, ...outcome.refused];
    const applied = Object.keys(job.settings).filter(
      (k) => !outcome.refused.some((r) => r.setting.endsWith(k)),
    );
    if (refused.length === 0)
      return done("SUCCEEDED", { applied: Object.keys(job.settings).join(", ") });
    return done("FAILED", {
      reason: `${refused.length} setting(s) refused`,
      refused: refusalText(refused),
      ...(applied.length > 0 ? { applied: applied.join(", ") } : {}),
    });
  };

  const outboxFlush = async (signal: AbortSignal) => {
    const { outbox } = deps;
    const last = outbox.newest()?.id;
    const held = outbox.stats().depth;
    if (last === undefined || held === 0) return done("SUCCEEDED", { held: "0", published: "0" });
    const ackedBefore = outbox.stats().acked;
    deps.pump();
    const until = deps.now() + (deps.flushWaitMs ?? OUTBOX_FLUSH_WAIT_MS);
    const left = () => outbox.pending(held).filter((e) => e.id <= last).length;
    while (left() > 0 && deps.now() < until && !signal.aborted) await sleep(100);
    const remaining = left();
    const counts = {
      held: String(held),
      published: String(held - remaining),
      acked_meanwhile: String(outbox.stats().acked - ackedBefore),
    };
    return remaining === 0
      ? done("SUCCEEDED", counts)
      : done("FAILED", {
          ...counts,
          left: String(remaining),
          reason: `${remaining} of ${held} batches not acknowledged within ${Math.round((deps.flushWaitMs ?? OUTBOX_FLUSH_WAIT_MS) / 1000)} s`,
        });
  };

  const agentUpdate = async (
    job: Extract<AgentJob, { operation: "agent.update" }>,
    context: JobContext,
  ): Promise<JobOutcome> => {
    const { bundle, config, firmwareVersion } = deps;
    if (bundle === undefined || !existsSync(bundle))
      return done("REJECTED", {
        reason:
          "this agent was not started by medusa-launcher with a bundle (MEDUSA_BUNDLE): it cannot replace itself",
      });
    if (job.version === firmwareVersion)
      return done("SUCCEEDED", { version: firmwareVersion, note: "already running this version" });
    await context.progress({ step: "downloading", version: job.version });
    let bytes: Buffer;
    try {
      bytes = await downloadBundle(job.url, {
        caFile: config.jobs.updateCaFile,
        maxBytes: config.jobs.updateMaxBytes,
        timeoutMs: config.jobs.updateDownloadMs,
        signal: context.signal,
      });
    } catch (e) {
      return done("FAILED", {
        reason: e instanceof DownloadFailed ? e.message : errorText(e),
        version: firmwareVersion,
      });
    }
    const got = sha256Hex(bytes);
    if (got !== job.sha256)
      return done("FAILED", {
        reason: `sha256 mismatch: expected ${job.sha256}, got ${got} (${bytes.length} bytes); nothing changed`,
        version: firmwareVersion,
      });
    if (context.signal.aborted) throw context.signal.reason;
    await context.progress({ step: "installing", version: job.version, sha256: got });
    installBundle(bundle, bytes, {
      jobId: context.execution.jobId,
      from: firmwareVersion,
      to: job.version,
      deadline: deps.now() + config.jobs.updateConfirmMs,
      maxAttempts: UPDATE_MAX_ATTEMPTS,
    });
    deps.log(`agent.update: version ${job.version} installed at ${bundle}; restarting into it`);
    return { kind: "restart", details: { step: "restarting", version: job.version } };
  };

  /** agent.update found IN_PROGRESS at start: the marker says how it ended. */
  const resumeUpdate = (
    job: Extract<AgentJob, { operation: "agent.update" }>,
    execution: JobExecution,
  ): JobOutcome | "again" => {
    const { bundle, firmwareVersion } = deps;
    const marker = bundle === undefined ? undefined : readMarker(bundle);
    if (bundle !== undefined && marker?.jobId === execution.jobId) {
      removeMarker(bundle);
      if (marker.state === "rolled-back")
        return done("FAILED", {
          reason: `rolled back: ${marker.reason ?? "the new version did not connect"}`,
          version: firmwareVersion,
        });
      if (firmwareVersion === marker.to)
        return done("SUCCEEDED", { version: firmwareVersion, previous: marker.from });
      return done("FAILED", {
        reason: `the update did not take: version ${firmwareVersion} is running, not ${marker.to}`,
        version: firmwareVersion,
      });
    }
    const step = execution.statusDetails.step;
    if (step === "restarting" || step === "installing") {
      if (firmwareVersion === job.version)
        return done("SUCCEEDED", { version: firmwareVersion, note: "no update record left" });
      return done("FAILED", {
        reason: `the agent restarted during the update (step ${step}) without its record; version ${firmwareVersion} is running`,
        version: firmwareVersion,
      });
    }
    return "again"; // nothing changed before the restart: download again
  };

  return {
    execute: async (job: AgentJob, context: JobContext): Promise<JobOutcome> => {
      switch (job.operation) {
        case "config.set":
          return configSet(job);
        case "outbox.flush":
          return outboxFlush(context.signal);
        case "agent.restart":
          return {
            kind: "restart",
            details: { step: "restarting" },
            afterRestart: {
              status: "SUCCEEDED",
              details: { restarted: "true", version: deps.firmwareVersion },
            },
          };
        case "agent.update":
          return agentUpdate(job, context);
        case "certificate.rotate":
          return deps.rotation
            ? deps.rotation.rotate(job.template, context)
            : done("REJECTED", { reason: "this agent cannot rotate its certificate" });
      }
    },
    resume: async (job: AgentJob, execution: JobExecution): Promise<JobOutcome | "again"> => {
      if (job.operation === "agent.update") return resumeUpdate(job, execution);
      // Never run again blind: the files say whether the new certificate was installed.
      if (job.operation === "certificate.rotate")
        return deps.rotation
          ? deps.rotation.resume(execution)
          : done("FAILED", { reason: "this agent cannot rotate its certificate" });
      if (job.operation === "agent.restart" && execution.statusDetails.step === "restarting")
        return done("SUCCEEDED", { restarted: "true", version: deps.firmwareVersion });
      return "again"; // config.set and outbox.flush are safe to run again
    },
  };
};

/**
 * On connecting: a pending update to this very version is confirmed, so the
 * launcher's deadline no longer rolls it back.
 */
export const confirmUpdate = (
  bundle: string | undefined,
  firmwareVersion: string,
  log: (line: string) => void,
): void => {
  if (bundle === undefined) return;
  const marker = readMarker(bundle);
  if (marker?.state !== "pending" || marker.to !== firmwareVersion) return;
  try {
    writeMarker(bundle, { ...marker, state: "confirmed" });
    log(`agent.update: version ${firmwareVersion} connected; the update is confirmed`);
  } catch (e) {
    log(`agent.update: confirmation not written: ${errorText(e)}`);
  }
};

/** `--check`'s line for a pending or finished update beside the bundle. */
export const describeUpdate = (bundle: string | undefined): string | undefined => {
  if (bundle === undefined) return undefined;
  const marker = readMarker(bundle);
  if (marker === undefined)
    return existsSync(`${bundle}.previous`)
      ? `agent bundle       ${bundle} (previous kept at ${bundle}.previous)`
      : `agent bundle       ${bundle}`;
  return `agent bundle       ${bundle}; update ${marker.from} → ${marker.to} (job ${marker.jobId}) ${marker.state}${marker.reason ? `: ${marker.reason}` : ""}`;
};
