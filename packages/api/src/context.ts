import type {
  ActivityStore,
  Alerts,
  AssignmentReadModel,
  Clock,
  Commit,
  DecisionPolicy,
  DeviceJobsService,
  DeviceShadowsService,
  DeviceStatuses,
  EventStore,
  IdempotencyKeys,
  SensorStore,
} from "@medusa/domain";
import type { Layer } from "effect";
import type { Context } from "hono";
import type { Authenticate, Principal, Role } from "./auth.js";
import { ProblemError, problem } from "./problems.js";

/** The ports the API's use cases run on. */
export type ApiPorts =
  | EventStore
  | AssignmentReadModel
  | SensorStore
  | IdempotencyKeys
  | Clock
  | DeviceStatuses
  | Alerts
  | ActivityStore;

/** Everything the app needs; wired once at the entry point. */
export interface ApiDeps {
  /** Every port, built once (DynamoDB in production, the in-memory twins in tests). */
  readonly layer: Layer.Layer<ApiPorts>;
  readonly authenticate: Authenticate;
  readonly newId?: () => string;
  /** One JSON line per call; never given patient data. */
  readonly log?: (entry: Record<string, unknown>) => void;
  /** Called after every accepted (not duplicate) commit: the local stack re-attributes and invalidates caches here. */
  readonly onCommit?: (commit: Commit) => void;
  readonly policy?: DecisionPolicy;
  /**
   * Devices' shadows (AWS IoT's data plane, or the local broker's emulation
   * of it): the configuration and live-mode routes answer 503 without one.
   */
  readonly shadows?: DeviceShadowsService;
  /** Jobs for devices (AWS IoT Jobs, or the local broker's emulation): the jobs routes answer 503 without one. */
  readonly jobs?: DeviceJobsService;
  /**
   * Signs the timeline cursors handed to clients; every instance serving one
   * API needs the same key. A random one per app when absent (one process).
   */
  readonly cursorKey?: Uint8Array | string | undefined;
}

export interface ApiEnv {
  Variables: {
    principal: Principal;
    requestId: string;
  };
}

/** The principal, if it has the role. */
export const requireRole = (c: Context<ApiEnv>, role: Role): Principal => {
  const principal = c.get("principal");
  if (
    !principal.roles.includes(role) &&
    !(role === "viewer" && principal.roles.includes("clinician"))
  ) {
    throw new ProblemError(
      problem(403, "forbidden", "Forbidden", { detail: `this needs the ${role} role` }),
    );
  }
  return principal;
};
