import { readFileSync } from "node:fs";
import { deviceId, epochMillis, magnitudeOf, patientId } from "@medusa/domain";
import type * as fhir4 from "fhir/r4.js";
import { expect, it } from "vitest";
import { asFhir4 } from "../testing/fhir-schema.js";
import { accelerationObservation, activityObservation, searchset } from "./resources.js";
import { decodeSampledData, runsOf } from "./sampled-data.js";

const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
const section = readme.slice(readme.indexOf("## FHIR R4 export"), readme.indexOf("## Errors"));
/** The section's JSON examples, in order. */
const examples = [...section.matchAll(/```json\n([\s\S]*?)\n```/g)].map((m) => m[1] ?? "");

it("the README's example Bundle is valid FHIR R4 and what the export writes for its samples", () => {
  const block = examples[0];
  if (block === undefined) throw new Error("no example Bundle in the README");
  const shown = asFhir4<fhir4.Bundle>(JSON.parse(block), "Bundle");
  const T = Date.UTC(2025, 10, 20, 8, 0, 0);
  const counts = [
    [3, -2, 256],
    [4, -2, 255],
    [4, -1, 256],
  ] as const;
  const samples = counts.map(([x, y, z], i) => ({
    deviceId: deviceId("medusa-pi-01"),
    timestamp: epochMillis(T + i * 100),
    sequence: 4711 + i,
    x: x * 0.0039,
    y: y * 0.0039,
    z: z * 0.0039,
    magnitude: magnitudeOf(x * 0.0039, y * 0.0039, z * 0.0039),
  }));
  const [run] = runsOf(samples);
  if (run === undefined) throw new Error("no run");
  const [self, next] = (shown.link ?? []).map((l) => l.url);
  expect(shown).toEqual(
    searchset({
      self: self ?? "",
      next: next ?? null,
      resources: [accelerationObservation(patientId("P-1001"), run)],
    }),
  );
  const o = shown.entry?.[0]?.resource as fhir4.Observation;
  expect(decodeSampledData(o.valueSampledData as fhir4.SampledData).map((p) => p.z)).toEqual(
    samples.map((s) => s.z),
  );
});

it("the README's activity epoch is valid FHIR R4 and what the export writes for its epoch", () => {
  const block = examples[1];
  if (block === undefined) throw new Error("no example activity epoch in the README");
  const shown = asFhir4<fhir4.Observation>(JSON.parse(block), "Observation");
  expect(shown).toEqual(
    activityObservation(patientId("P-1001"), {
      start: Date.UTC(2025, 10, 20, 8, 1, 0),
      epochMs: 60_000,
      deviceId: deviceId("medusa-pi-01"),
      samples: 600,
      expected: 600,
      coverage: 1,
      enmoMg: 62.5,
      madMg: 81.25,
      steps: 98,
      cadence: 98,
      wear: true,
      intensity: "light",
    }),
  );
});
