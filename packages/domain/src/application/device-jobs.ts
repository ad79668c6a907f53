import { Effect } from "effect";
import type { DeviceId } from "../ids.js";
import {
  type DeviceJob,
  type DeviceJobRequest,
  DeviceJobs,
  deviceJobId,
} from "../ports/device-jobs.js";

/** Creates a job for one device; `unique` makes its id (a UUID from the entry point). */
export const createDeviceJob = (deviceId: DeviceId, request: DeviceJobRequest, unique: string) =>
  Effect.flatMap(DeviceJobs, (jobs) =>
    jobs.create(deviceId, deviceJobId(request.type, unique), request),
  );

/** One device's jobs, newest first. */
export const deviceJobs = (deviceId: DeviceId) =>
  Effect.map(
    Effect.flatMap(DeviceJobs, (jobs) => jobs.list(deviceId)),
    (list): ReadonlyArray<DeviceJob> =>
      [...list].sort((a, b) => b.queuedAt - a.queuedAt || b.lastUpdatedAt - a.lastUpdatedAt),
  );
