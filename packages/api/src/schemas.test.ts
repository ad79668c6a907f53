import { Arbitrary, Schema } from "effect";
import fc from "fast-check";
import { expect, it } from "vitest";
import { isSampleView, SampleFields } from "./schemas.js";

it("the timeline's fast sample check accepts exactly what the documented sample schema accepts", () => {
  const schemaAccepts = Schema.is(SampleFields);
  const candidates = fc.oneof(
    Arbitrary.make(SampleFields),
    Arbitrary.make(SampleFields).chain((s) =>
      fc
        .record({
          field: fc.constantFrom(...Object.keys(SampleFields.fields)),
          value: fc.oneof(
            fc.anything(),
            fc.double(),
            fc.constantFrom(-1, 1.5, 9e15, Number.NaN, Number.POSITIVE_INFINITY),
          ),
        })
        .map(({ field, value }) => ({ ...s, [field]: value })),
    ),
    fc.anything(),
  );
  fc.assert(
    fc.property(candidates, (u) => {
      expect(isSampleView(u)).toBe(schemaAccepts(u));
    }),
  );
});
