import {
  type AssignmentInterval,
  DEFAULT_EPOCH_MS,
  deviceAssignments,
  InvalidCursor,
  type PatientId,
  patientActivity,
  patientDevices,
  patientTimeline,
  WRIST_CUT_POINTS,
} from "@medusa/domain";
import { Effect } from "effect";
import type * as fhir4 from "fhir/r4.js";
import { type Context, Hono } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { Routes } from "../app.js";
import { Unauthenticated } from "../auth.js";
import { type ApiEnv, requireRole } from "../context.js";
import { capabilityStatement } from "../fhir/capability.js";
import { deviceIdOfFhirId, FHIR_ID } from "../fhir/ids.js";
import {
  accelerationObservation,
  activityObservation,
  deviceResource,
  deviceUseStatement,
  operationOutcome,
  searchset,
} from "../fhir/resources.js";
import { runsOf } from "../fhir/sampled-data.js";
import { deviceUseSearch, observationSearch, onlyParameters } from "../fhir/search.js";
import { type Problem, ProblemError, problem, sendProblem } from "../problems.js";

export const FHIR_BASE_PATH = "/fhir/R4";
export const FHIR_JSON = "application/fhir+json";

/** The most samples one page of Observations holds (the timeline's own page limit). */
export const MAX_SAMPLES_PER_PAGE = 10_000;

const JSON_FORMATS = new Set(["json", "application/json", "application/fhir+json"]);
const ACCEPTED = new Set(["application/fhir+json", "application/json", "application/*", "*/*"]);

const sendFhir = (c: Context, resource: fhir4.FhirResource, status: ContentfulStatusCode = 200) =>
  c.body(JSON.stringify(resource), status, { "content-type": FHIR_JSON });

const notFound = (detail: string) =>
  new ProblemError(problem(404, "not-found", "Not found", { detail }));

/** `[start, deviceId]` of the last assignment period a page showed. */
const periodKey = (i: AssignmentInterval): string =>
  Buffer.from(JSON.stringify([i.start, i.deviceId])).toString("base64url");
const afterKey = (raw: string): ((i: AssignmentInterval) => boolean) | null => {
  try {
    const key: unknown = JSON.parse(Buffer.from(raw, "base64url").toString("utf8"));
    if (!Array.isArray(key) || typeof key[0] !== "number" || typeof key[1] !== "string")
      return null;
    const [start, device] = key as [number, string];
    // Oldest first, then by device: the order `patientDevices` gives the history in.
    return (i) => i.start > start || (i.start === start && i.deviceId > device);
  } catch {
    return null;
  }
};

/**
 * `/fhir/R4`: a read-only FHIR R4 export of devices, assignment periods,
 * accelerometer data and activity epochs. The routes are shells: they decode the search, run the
 * use cases the rest of the API runs, and map the result with the pure
 * functions of `src/fhir/`.
 */
export const fhir = ({ deps, run, cursors }: Routes) => {
  const app = new Hono<ApiEnv>();

  // Every answer is FHIR: a problem from anywhere below (a bad search, the
  // token, storage, an unknown path) leaves as an OperationOutcome with its status.
  app.use("*", async (c, next) => {
    await next();
    c.header("cache-control", "no-store");
    if (c.res.headers.get("content-type")?.startsWith("application/problem+json")) {
      const p = (await c.res.json()) as Problem;
      c.res = new Response(JSON.stringify(operationOutcome(p)), {
        status: c.res.status,
        headers: { "content-type": FHIR_JSON },
      });
    }
  });

  // JSON only: `_format` or an Accept header asking for XML or Turtle is a 406.
  app.use("*", async (c, next) => {
    const formats = c.req.queries("_format") ?? [];
    const accept = (c.req.header("accept") ?? "*/*")
      .split(",")
      .map((t) => (t.split(";")[0] ?? "").trim().toLowerCase());
    if (formats.some((f) => !JSON_FORMATS.has(f)) || !accept.some((t) => ACCEPTED.has(t)))
      return sendProblem(
        c,
        problem(406, "not-acceptable", "Not acceptable", {
          detail: "this server answers in FHIR JSON only (application/fhir+json)",
        }),
      );
    await next();
  });

  // What the server does, before the token is asked for: clients read it to learn how to authorise.
  app.get("/metadata", (c) => {
    onlyParameters(c.req.queries(), ["mode"]);
    const url = new URL(c.req.url);
    return sendFhir(c, capabilityStatement(`${url.origin}${FHIR_BASE_PATH}`));
  });

  app.use("*", async (c, next) => {
    const unauthorized = (detail: string) => {
      const r = sendProblem(c, problem(401, "unauthorized", "Unauthorized", { detail }));
      r.headers.set("www-authenticate", 'Bearer realm="medusa-link"');
      return r;
    };
    const match = /^Bearer\s+(\S+)$/i.exec(c.req.header("authorization") ?? "");
    if (!match) return unauthorized("send Authorization: Bearer <token>");
    try {
      c.set("principal", await deps.authenticate(match[1] as string));
    } catch (e) {
      if (e instanceof Unauthenticated) return unauthorized(e.message);
      throw e;
    }
    await next();
  });

  const sealAs = (kind: string, raw: string) => cursors.seal(`${kind}:${raw}`);
  const openAs = (kind: string, sealed: string) =>
    Effect.flatMap(cursors.open(sealed), (raw) =>
      raw.startsWith(`${kind}:`)
        ? Effect.succeed(raw.slice(kind.length + 1))
        : Effect.fail(new InvalidCursor({ reason: "cursor of another search" })),
    );
  /** This search's URL with `_cursor` set: the next page. */
  const nextLink = (c: Context, cursor: string): string => {
    const url = new URL(c.req.url);
    url.searchParams.delete("_cursor");
    url.searchParams.append("_cursor", cursor);
    return url.toString();
  };

  app.get("/Device/:id", async (c) => {
    requireRole(c, "viewer");
    onlyParameters(c.req.queries(), []);
    const id = c.req.param("id");
    if (!FHIR_ID.test(id))
      throw new ProblemError(
        problem(400, "validation-error", "Invalid request", {
          detail: "invalid request: id: is not a FHIR id ([A-Za-z0-9-.]{1,64})",
          errors: [{ path: "id", message: "is not a FHIR id ([A-Za-z0-9-.]{1,64})" }],
        }),
      );
    const deviceId = deviceIdOfFhirId(id);
    if (deviceId === null) throw notFound(`Device/${id}: no device has this id`);
    // Newest first: the open assignment, if any, is the first.
    const trail = await run(deviceAssignments(deviceId));
    const newest = trail[0];
    if (newest === undefined)
      throw notFound(`Device/${id}: unknown (a device is known once it has been assigned)`);
    return sendFhir(c, deviceResource(deviceId, newest.end === null ? newest : null));
  });

  app.get("/DeviceUseStatement", async (c) => {
    requireRole(c, "viewer");
    const { patientId, page } = deviceUseSearch(c.req.queries());
    const after =
      page.cursor === undefined
        ? null
        : await run(
            Effect.flatMap(openAs("d", page.cursor), (raw) => {
              const f = afterKey(raw);
              return f ? Effect.succeed(f) : Effect.fail(new InvalidCursor({ reason: raw }));
            }),
          );
    const history = await run(patientDevices(patientId, { history: true }));
    const rest = after ? history.filter(after) : history;
    const shown = rest.slice(0, page.count);
    const last = shown.at(-1);
    return sendFhir(
      c,
      searchset({
        self: c.req.url,
        next: rest.length > shown.length && last ? nextLink(c, sealAs("d", periodKey(last))) : null,
        total: history.length,
        resources: shown.map(deviceUseStatement),
      }),
    );
  });

  // Runs of samples first, then activity epochs (each kind as `code` selects):
  // the cursor names the kind it continues, `o:` samples, `a:` epochs (`a:`
  // alone: the epochs from their first).
  app.get("/Observation", async (c) => {
    requireRole(c, "viewer");
    const { patientId, range, kinds, page } = observationSearch(c.req.queries());
    const opened = page.cursor === undefined ? undefined : await run(cursors.open(page.cursor));
    const kindOf = (raw: string) => raw.slice(0, 2);
    if (
      opened !== undefined &&
      !(kinds.samples && kindOf(opened) === "o:") &&
      !(kinds.activity && kindOf(opened) === "a:")
    )
      await run(Effect.fail(new InvalidCursor({ reason: "cursor of another search" })));
    const resources: Array<fhir4.Observation> = [];
    let next: string | null = null;
    let activityFrom: string | undefined | null = null;
    if (opened?.startsWith("a:")) activityFrom = opened.slice(2) || undefined;
    else if (kinds.samples) {
      const cursor = opened?.slice(2);
      const read = (limit: number) =>
        run(
          patientTimeline(patientId, range, {
            limit,
            ...(cursor !== undefined ? { cursor } : {}),
          }),
        );
      let samples = await read(MAX_SAMPLES_PER_PAGE);
      let runs = runsOf(samples.samples);
      const cut = runs[page.count];
      if (cut !== undefined) {
        // More runs than the page takes: the same page again, ending where run `count + 1`
        // starts, so that the store's cursor continues exactly there.
        samples = await read(cut.firstIndex);
        runs = runsOf(samples.samples);
      }
      for (const r of runs) resources.push(accelerationObservation(patientId, r));
      if (samples.nextCursor !== null) next = `o:${samples.nextCursor}`;
      else if (kinds.activity) activityFrom = undefined;
    } else activityFrom = undefined;
    if (activityFrom !== null) {
      const epochs = await activityPage(
        patientId,
        range,
        page.count - resources.length,
        activityFrom,
      );
      for (const e of epochs.epochs) resources.push(activityObservation(patientId, e));
      if (epochs.nextCursor !== null) next = `a:${epochs.nextCursor}`;
    }
    return sendFhir(
      c,
      searchset({
        self: c.req.url,
        next: next === null ? null : nextLink(c, cursors.seal(next)),
        resources,
      }),
    );
  });

  /**
   * A page of activity epochs (60 s, the wrist cut-points: what
   * `/api/patients/{id}/activity` answers by default). `room` 0: the page is
   * full already, and only whether there are epochs is asked (one is read):
   * no next link to an empty page.
   */
  const activityPage = async (
    patientId: PatientId,
    range: { readonly start: number; readonly end: number },
    room: number,
    cursor: string | undefined,
  ) => {
    const page = await run(
      patientActivity(patientId, range, {
        epochMs: DEFAULT_EPOCH_MS,
        limit: Math.max(1, room),
        cutPoints: WRIST_CUT_POINTS,
        ...(cursor !== undefined ? { cursor } : {}),
      }),
    );
    if (room > 0) return page;
    return { epochs: [], nextCursor: page.epochs.length > 0 ? (cursor ?? "") : null };
  };

  return app;
};
