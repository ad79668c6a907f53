import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { type DynamoStores, makeDynamoStores } from "@medusa/adapters";
import { testTables } from "@medusa/adapters/testing";
import {
  type Commit,
  DEFAULT_EPOCH_MS,
  deviceId,
  enrich,
  keepingActivity,
  type Sample,
  type StoredSegment,
  segmentKey,
} from "@medusa/domain";
import { Effect } from "effect";
import { inject } from "vitest";
import { createApp } from "../app.js";
import { portsOf } from "./app-suite.js";
import { signToken, testAuth } from "./index.js";

/** The API on fresh DynamoDB Local tables: in process (`app`) and served over HTTP (`base`). */
export interface ApiOnDynamoLocal {
  readonly client: Awaited<ReturnType<typeof testTables>>["client"];
  readonly stores: DynamoStores;
  readonly app: ReturnType<typeof createApp>;
  /** `http://127.0.0.1:<port>`, where the app is served. */
  readonly base: string;
  /** Tokens of a clinician, a viewer and someone with no role. */
  readonly clinician: string;
  readonly viewer: string;
  readonly nobody: string;
  /** One JSON call over HTTP (a string body is sent as it is), as the clinician unless told. */
  readonly http: (
    method: string,
    path: string,
    body?: unknown,
    token?: string,
    headers?: Record<string, string>,
  ) => Promise<{ status: number; body: Record<string, unknown>; headers: Headers }>;
  /**
   * Stores samples as ingest does: attributed by event time with the device's
   * intervals, less those entered in error; with `activity`, the activity
   * blocks kept as the ingest keeps them.
   */
  readonly deliver: (
    device: string,
    samples: ReadonlyArray<Sample>,
    options?: { readonly activity?: boolean },
  ) => Promise<void>;
  /** Stops the server and drops the tables. */
  readonly close: () => Promise<void>;
}

/** Serves an app over HTTP on 127.0.0.1, on a free port. */
export const serveOnLoopback = async (
  app: ReturnType<typeof createApp>,
): Promise<{ readonly base: string; readonly close: () => Promise<void> }> => {
  const server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" });
  await new Promise((r) => server.once("listening", r));
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
};

export const apiOnDynamoLocal = async (
  options: {
    /** The clinician's e-mail, where a test reads it back from the record. */
    readonly clinicianEmail?: string;
    /** What the app calls after each accepted commit, given the stores. */
    readonly onCommit?: (stores: DynamoStores) => (commit: Commit) => void;
  } = {},
): Promise<ApiOnDynamoLocal> => {
  const t = await testTables(inject("dynamoEndpoint"));
  const stores = makeDynamoStores({ client: t.client, tables: t.tables });
  const app = createApp({
    layer: portsOf(stores),
    authenticate: testAuth(),
    log: () => {},
    ...(options.onCommit ? { onCommit: options.onCommit(stores) } : {}),
  });
  const { base, close } = await serveOnLoopback(app);
  const email = options.clinicianEmail ?? "nurse@clinic.example";
  const clinician = await signToken({ email, roles: ["clinician"] });
  const viewer = await signToken({ email: "viewer@clinic.example", roles: ["viewer"] });
  const nobody = await signToken({ email: "guest@clinic.example", roles: [] });
  return {
    client: t.client,
    stores,
    app,
    base,
    clinician,
    viewer,
    nobody,
    http: async (method, path, body, token = clinician, headers = {}) => {
      const r = await fetch(`${base}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          "content-type": "application/json",
          ...headers,
        },
        ...(body !== undefined
          ? { body: typeof body === "string" ? body : JSON.stringify(body) }
          : {}),
      });
      return {
        status: r.status,
        body: (await r.json()) as Record<string, unknown>,
        headers: r.headers,
      };
    },
    deliver: async (device, samples, { activity = false } = {}) => {
      const id = deviceId(device);
      const rows = await Effect.runPromise(stores.readModel.deviceIntervals(id));
      const segments: Array<StoredSegment> = enrich(
        id,
        samples,
        rows.filter((r) => !r.retracted),
      ).map((s) => ({ ...s, key: segmentKey(s.samples), attributedVersion: 0 }));
      const sensors = activity
        ? keepingActivity(stores.sensors, stores.activity, {
            epochMs: DEFAULT_EPOCH_MS,
            retentionMs: 30 * 86_400_000,
          })
        : stores.sensors;
      await Effect.runPromise(sensors.write(segments));
    },
    close: async () => {
      await close();
      await t.drop();
    },
  };
};
