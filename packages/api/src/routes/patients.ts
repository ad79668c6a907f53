import {
  ACTIVITY_ALGORITHMS,
  CUT_POINT_SETS,
  type CutPointSet,
  type CutPointSetName,
  type DaySummary,
  DEFAULT_CUT_POINT_SET,
  DEFAULT_EPOCH_MS,
  encodeActivityCursor,
  MAX_DAYS,
  PatientId,
  patientActivity,
  patientActivityDaily,
  patientDevices,
  patientTimeline,
} from "@medusa/domain";
import { Effect } from "effect";
import { type Context, Hono } from "hono";
import { activityCsvOfRows, activityCsvRow, activityCsv as csv } from "../activity-csv.js";
import { ACTIVITY_PAGE_BYTES, activityPageBody, epochView } from "../activity-json.js";
import type { Routes } from "../app.js";
import { type ApiEnv, requireRole } from "../context.js";
import { decodeInput, decodeParam, jsonBody } from "../input.js";
import { ProblemError, problem } from "../problems.js";
import {
  ACTIVITY_MAX_PAGE,
  ActivityDailyQuery,
  ActivityDailyResponse,
  ActivityDayView,
  ActivityEpochView,
  ActivityQuery,
  PatientDevicesQuery,
  PatientDevicesResponse,
  SensorDataBody,
  SensorDataQuery,
} from "../schemas.js";
import { ARROW_STREAM, timelinePageArrow, wantsArrow } from "../timeline-arrow.js";
import { timelinePageJson } from "../timeline-json.js";
import { assignmentView, send } from "../views.js";

const DEFAULT_PAGE = 1_000;

const dayView = (d: DaySummary) => ({
  date: d.date,
  start_time: d.start,
  end_time: d.end,
  wear_minutes: d.wearMinutes,
  sedentary_minutes: d.minutes.sedentary,
  light_minutes: d.minutes.light,
  moderate_minutes: d.minutes.moderate,
  vigorous_minutes: d.minutes.vigorous,
  steps: d.steps,
  mean_enmo_mg: d.meanEnmoMg,
  coverage: d.coverage,
  devices: d.devices,
});

/** Whether the client asked for CSV (`Accept: text/csv`). */
const wantsCsv = (accept: string | undefined) => /\btext\/csv\b/i.test(accept ?? "");

/** The cut-points a request chose (`cut_points`, the wrist set unless given). */
const cutPointSetOf = (name: CutPointSetName | undefined): CutPointSet =>
  CUT_POINT_SETS[name ?? DEFAULT_CUT_POINT_SET];

const cutPointsView = (set: CutPointSet) => ({
  name: set.name,
  light_mg: set.cutPoints.light,
  moderate_mg: set.cutPoints.moderate,
  vigorous_mg: set.cutPoints.vigorous,
  source: set.source,
  position: set.position,
});

/** The CSV's line naming the set used, its thresholds, wear position and source. */
const cutPointsLine = (set: CutPointSet) =>
  `intensity cut-points "${set.name}" (ENMO, mg; ${set.position}): light >= ${set.cutPoints.light}, moderate >= ${set.cutPoints.moderate}, vigorous >= ${set.cutPoints.vigorous}; source: ${set.source}`;

/** `/api/patients`: a patient's devices and timeline. */
export const patients = ({ run, cursors }: Routes) => {
  const app = new Hono<ApiEnv>();

  app.get("/:patient_id/devices", async (c) => {
    requireRole(c, "viewer");
    const patientId = decodeParam("patient_id", PatientId, c.req.param("patient_id"));
    const { include } = decodeInput(PatientDevicesQuery, c.req.query());
    const shown = await run(patientDevices(patientId, { history: include === "history" }));
    return send(c, PatientDevicesResponse, {
      patient_id: patientId,
      devices: shown.map(assignmentView),
    });
  });

  const timeline = async (
    patientIdRaw: string,
    input: { start_time: number; end_time: number; limit?: number; cursor?: string },
  ) => {
    const patientId = decodeParam("patient_id", PatientId, patientIdRaw);
    const page = await run(
      Effect.flatMap(
        input.cursor === undefined ? Effect.succeed(undefined) : cursors.open(input.cursor),
        (cursor) =>
          patientTimeline(
            patientId,
            { start: input.start_time, end: input.end_time },
            { limit: input.limit ?? DEFAULT_PAGE, ...(cursor !== undefined ? { cursor } : {}) },
          ),
      ),
    );
    return {
      patientId,
      page: {
        samples: page.samples,
        nextCursor: page.nextCursor === null ? null : cursors.seal(page.nextCursor),
      },
    };
  };
  // Up to 10,000 samples a page: written straight to JSON (`timeline-json.ts`), the same JSON `send` gives.
  // `Accept: application/vnd.apache.arrow.stream`: the page as an Arrow IPC stream (`timeline-arrow.ts`),
  // the next page's cursor in its metadata and in X-Next-Cursor; any other Accept gets the JSON.
  const sendTimeline = (c: Context<ApiEnv>, t: Awaited<ReturnType<typeof timeline>>) => {
    if (wantsArrow(c.req.header("accept"))) {
      const bytes = timelinePageArrow(t.patientId, t.page);
      return c.body(bytes, 200, {
        "content-type": ARROW_STREAM,
        vary: "accept",
        ...(t.page.nextCursor !== null ? { "x-next-cursor": t.page.nextCursor } : {}),
      });
    }
    return c.body(timelinePageJson(t.patientId, t.page), 200, {
      "content-type": "application/json",
      vary: "accept",
    });
  };

  app.get("/:patient_id/sensor-data", async (c) => {
    requireRole(c, "viewer");
    const input = decodeInput(SensorDataQuery, c.req.query());
    return sendTimeline(c, await timeline(c.req.param("patient_id"), input));
  });

  // The old backend's form: the same fields in a JSON body.
  app.post("/:patient_id/sensor-data", async (c) => {
    requireRole(c, "viewer");
    const input = decodeInput(SensorDataBody, await jsonBody(c));
    return sendTimeline(c, await timeline(c.req.param("patient_id"), input));
  });

  app.get("/:patient_id/activity", async (c) => {
    requireRole(c, "viewer");
    const patientId = decodeParam("patient_id", PatientId, c.req.param("patient_id"));
    const input = decodeInput(ActivityQuery, c.req.query());
    const cutPoints = cutPointSetOf(input.cut_points);
    const page = await run(
      Effect.flatMap(
        input.cursor === undefined ? Effect.succeed(undefined) : cursors.open(input.cursor),
        (cursor) =>
          patientActivity(
            patientId,
            { start: input.start_time, end: input.end_time },
            {
              epochMs: input.epoch_ms ?? DEFAULT_EPOCH_MS,
              limit: input.limit ?? ACTIVITY_MAX_PAGE,
              cutPoints: cutPoints.cutPoints,
              ...(cursor !== undefined ? { cursor } : {}),
            },
          ),
      ),
    );
    const cursorAfter = (e: (typeof page.epochs)[number]) => cursors.seal(encodeActivityCursor(e));
    if (wantsCsv(c.req.header("accept"))) {
      // The same bound in bytes as the JSON's: rows past it go to the next page.
      const columns = Object.keys(ActivityEpochView.fields);
      const rows: Array<string> = [];
      let bytes = 0;
      let next = page.nextCursor === null ? null : cursors.seal(page.nextCursor);
      for (const e of page.epochs) {
        const row = activityCsvRow(epochView(e), columns);
        if (rows.length > 0 && bytes + row.length > ACTIVITY_PAGE_BYTES) {
          next = cursorAfter(page.epochs[rows.length - 1] as (typeof page.epochs)[number]);
          break;
        }
        rows.push(row);
        bytes += row.length;
      }
      if (next !== null) c.header("x-next-cursor", next);
      return c.body(
        activityCsvOfRows(
          [
            `patient ${patientId}; epochs from ${input.start_time} to ${input.end_time} (Unix ms, UTC)`,
            "units: time Unix ms (UTC, epoch start); epoch_ms ms; enmo_mg and mad_mg milli-g; coverage samples/expected (0-1); cadence_spm steps per minute",
            cutPointsLine(cutPoints),
            ...(next !== null ? [`more: repeat with cursor=${next}`] : []),
          ],
          rows,
          columns,
        ),
        200,
        { "content-type": "text/csv; charset=utf-8" },
      );
    }
    // A week is 10,080 epochs: written straight to JSON (`activity-json.ts`), the same JSON `send` gives.
    return c.body(
      activityPageBody(
        {
          patient_id: patientId,
          epochs: page.epochs,
          next_cursor: page.nextCursor === null ? null : cursors.seal(page.nextCursor),
          cut_points: cutPointsView(cutPoints),
          algorithms: ACTIVITY_ALGORITHMS,
        },
        { maxBytes: ACTIVITY_PAGE_BYTES, cursorAfter },
      ),
      200,
      { "content-type": "application/json" },
    );
  });

  app.get("/:patient_id/activity/daily", async (c) => {
    requireRole(c, "viewer");
    const patientId = decodeParam("patient_id", PatientId, c.req.param("patient_id"));
    const input = decodeInput(ActivityDailyQuery, c.req.query());
    const cutPoints = cutPointSetOf(input.cut_points);
    const days = (Date.parse(input.end_date) - Date.parse(input.start_date)) / 86_400_000 + 1;
    if (days < 1 || days > MAX_DAYS)
      throw new ProblemError(
        problem(400, "validation-error", "Invalid request", {
          detail: days < 1 ? "end_date is before start_date" : `at most ${MAX_DAYS} days at a time`,
        }),
      );
    const timeZone = input.tz ?? "UTC";
    const summaries = await run(
      patientActivityDaily(patientId, {
        first: input.start_date,
        last: input.end_date,
        timeZone,
        cutPoints: cutPoints.cutPoints,
      }),
    );
    const rows = summaries.map(dayView);
    if (wantsCsv(c.req.header("accept")))
      return c.body(
        csv(
          [
            `patient ${patientId}; days ${input.start_date} to ${input.end_date} in ${timeZone}`,
            "units: start_time and end_time Unix ms (UTC); minutes of worn 60 s epochs; mean_enmo_mg milli-g; coverage samples/expected over the day (0-1)",
            cutPointsLine(cutPoints),
          ],
          rows,
          Object.keys(ActivityDayView.fields),
        ),
        200,
        { "content-type": "text/csv; charset=utf-8" },
      );
    return send(c, ActivityDailyResponse, {
      patient_id: patientId,
      time_zone: timeZone,
      days: rows,
      cut_points: cutPointsView(cutPoints),
      algorithms: ACTIVITY_ALGORITHMS,
    });
  });

  return app;
};
