import {
  devicePublishTopics,
  deviceSubscribeFilters,
  jobsPublishTopics,
  jobsReceiveTopics,
  rotationPublishTopics,
  rotationSubscribeFilters,
  shadowResponseTopics,
} from "@medusa/domain";
import { describe, expect, it } from "vitest";
import {
  DEVICE_POLICY_PARTS,
  devicePolicyDocuments,
  deviceReceiveTopics,
  POLICY_DOCUMENT_MAX_CHARS,
  type PolicyDocument,
  type PolicyStatement,
  policyDocumentSize,
  THING_NAME,
} from "./iot.js";
import { devicePolicyNames, MAX_TOPIC_PREFIX_LENGTH, STAGES, sensorRuleName } from "./settings.js";

/**
 * The longest ARN prefix a deployment can have, with room to spare: the
 * longest partition IoT Core runs in (`aws-us-gov`, 10 characters), a region
 * name of 16 characters (the longest today have 14: `ap-southeast-5`,
 * `cn-northwest-1`) and a 12-digit account.
 */
const WORST_ARN_PREFIX = "arn:aws-us-gov:iot:xx-xxxxxxxxxx-9:123456789012:";
/** A real one, as in the issue. */
const REAL_ARN_PREFIX = "arn:aws:iot:eu-central-1:123456789012:";
/** The longest topic prefix the settings accept, with as many levels as characters allow. */
const WORST_TOPIC_PREFIX = "ab/"
  .repeat(MAX_TOPIC_PREFIX_LENGTH)
  .slice(0, MAX_TOPIC_PREFIX_LENGTH - 1)
  .concat("c");
/** The longest sensor rule name of any stage (`medusa_prod_sensor_data`). */
const WORST_RULE = STAGES.map(sensorRuleName).sort((a, b) => b.length - a.length)[0] as string;

const documentsAt = (arnPrefix: string, topicPrefix: string, rule: string) =>
  devicePolicyDocuments(topicPrefix, rule, (resource) => `${arnPrefix}${resource}`);

const resourcesOf = (doc: PolicyDocument, action: string, arnPrefix: string) =>
  doc.Statement.filter((s) => s.Action === action).flatMap((s) =>
    s.Resource.map((r) => {
      expect(r.startsWith(arnPrefix), r).toBe(true);
      return r.slice(arnPrefix.length);
    }),
  );

describe("the device policies' size", () => {
  it("the worst case is as long as the settings allow", () => {
    expect(WORST_ARN_PREFIX).toHaveLength(48);
    expect(WORST_TOPIC_PREFIX).toHaveLength(MAX_TOPIC_PREFIX_LENGTH);
    expect(WORST_RULE).toBe("medusa_prod_sensor_data");
  });

  it.each(DEVICE_POLICY_PARTS)(
    "%s: at most 2,048 characters without whitespace, at the longest ARN prefix, topic prefix and rule name",
    (part) => {
      const size = policyDocumentSize(
        documentsAt(WORST_ARN_PREFIX, WORST_TOPIC_PREFIX, WORST_RULE)[part],
      );
      expect(size).toBeLessThanOrEqual(POLICY_DOCUMENT_MAX_CHARS);
      // And the usual deployment, for the record: well below.
      expect(
        policyDocumentSize(documentsAt(REAL_ARN_PREFIX, "medusa", WORST_RULE)[part]),
      ).toBeLessThan(size);
    },
  );

  it("in one document the same rights would not fit, even at a real region and the default prefix (why there are three)", () => {
    const docs = documentsAt(REAL_ARN_PREFIX, "medusa", WORST_RULE);
    const one: PolicyDocument = {
      Version: "2012-10-17",
      Statement: DEVICE_POLICY_PARTS.flatMap((p) =>
        docs[p].Statement.map((s): PolicyStatement => ({ ...s, Sid: `${p}${s.Sid}` })),
      ),
    };
    expect(policyDocumentSize(one)).toBeGreaterThan(POLICY_DOCUMENT_MAX_CHARS);
  });

  it("counts as AWS does: whitespace is not counted", () => {
    const doc = documentsAt(REAL_ARN_PREFIX, "medusa", WORST_RULE).device;
    expect(policyDocumentSize(doc)).toBe(JSON.stringify(doc).length);
    expect(policyDocumentSize(JSON.parse(JSON.stringify(doc, null, 2)))).toBe(
      JSON.stringify(doc, null, 2).replace(/\s/g, "").length,
    );
  });
});

describe("the three device policies grant what the domain's topic rights say, no more, no less", () => {
  const prefix = "clinic-a/medusa";
  const rule = WORST_RULE;
  const docs = documentsAt(REAL_ARN_PREFIX, prefix, rule);
  const union = (action: string) =>
    DEVICE_POLICY_PARTS.flatMap((p) => resourcesOf(docs[p], action, REAL_ARN_PREFIX));

  it("together: exactly devicePublishTopics, deviceSubscribeFilters, the receive topics and rotation's, each once", () => {
    expect(union("iot:Publish").sort()).toEqual(
      [...devicePublishTopics(prefix, THING_NAME, [rule]), ...rotationPublishTopics]
        .map((t) => `topic/${t}`)
        .sort(),
    );
    expect(union("iot:Subscribe").sort()).toEqual(
      [...deviceSubscribeFilters(prefix, THING_NAME), ...rotationSubscribeFilters]
        .map((f) => `topicfilter/${f}`)
        .sort(),
    );
    expect(union("iot:Receive").sort()).toEqual(
      [...deviceReceiveTopics(prefix, THING_NAME), ...rotationSubscribeFilters]
        .map((t) => `topic/${t}`)
        .sort(),
    );
    for (const action of ["iot:Publish", "iot:Subscribe", "iot:Receive"])
      expect(new Set(union(action)).size).toBe(union(action).length);
    expect(union("iot:Connect")).toEqual([`client/${THING_NAME}`]);
    const actions = DEVICE_POLICY_PARTS.flatMap((p) => docs[p].Statement.map((s) => s.Action));
    expect([...new Set(actions)].sort()).toEqual([
      "iot:Connect",
      "iot:Publish",
      "iot:Receive",
      "iot:Subscribe",
    ]);
  });

  it("device: connects as its own attached thing and uses its own MeDUSA topics, no reserved $aws/things topic", () => {
    const connect = docs.device.Statement.filter((s) => s.Action === "iot:Connect");
    expect(connect).toHaveLength(1);
    expect(connect[0]?.Condition).toEqual({ Bool: { "iot:Connection.Thing.IsAttached": "true" } });
    for (const action of ["iot:Publish", "iot:Subscribe", "iot:Receive"])
      for (const r of resourcesOf(docs.device, action, REAL_ARN_PREFIX)) {
        expect(r).toContain(THING_NAME);
        expect(r).not.toContain("$aws/things/");
      }
    expect(resourcesOf(docs.device, "iot:Publish", REAL_ARN_PREFIX)).toContain(
      `topic/$aws/rules/${rule}/${prefix}/${THING_NAME}/sensor/data`,
    );
  });

  it("shadow: its own classic shadow's requests and responses, and certificate rotation's two requests, nothing else", () => {
    const shadow = `$aws/things/${THING_NAME}/shadow`;
    expect(resourcesOf(docs.shadow, "iot:Publish", REAL_ARN_PREFIX)).toEqual([
      `topic/${shadow}/update`,
      `topic/${shadow}/get`,
      // Certificate rotation's two requests: here for room (see devicePolicyPartOf).
      ...rotationPublishTopics.map((t) => `topic/${t}`),
    ]);
    expect(resourcesOf(docs.shadow, "iot:Subscribe", REAL_ARN_PREFIX)).toEqual(
      shadowResponseTopics(THING_NAME).map((t) => `topicfilter/${t}`),
    );
    expect(resourcesOf(docs.shadow, "iot:Receive", REAL_ARN_PREFIX)).toEqual(
      shadowResponseTopics(THING_NAME).map((t) => `topic/${t}`),
    );
    expect(docs.shadow.Statement.some((s) => s.Action === "iot:Connect")).toBe(false);
  });

  it("jobs: its own Jobs requests, answers and notifications, and certificate rotation's answers, nothing else", () => {
    expect(resourcesOf(docs.jobs, "iot:Publish", REAL_ARN_PREFIX)).toEqual(
      jobsPublishTopics(THING_NAME).map((t) => `topic/${t}`),
    );
    expect(resourcesOf(docs.jobs, "iot:Subscribe", REAL_ARN_PREFIX)).toEqual(
      [...jobsReceiveTopics(THING_NAME), ...rotationSubscribeFilters].map(
        (t) => `topicfilter/${t}`,
      ),
    );
    expect(resourcesOf(docs.jobs, "iot:Receive", REAL_ARN_PREFIX)).toEqual(
      [...jobsReceiveTopics(THING_NAME), ...rotationSubscribeFilters].map((t) => `topic/${t}`),
    );
    // Rotation's two requests are the shadow policy's (size): RegisterThing on rotation
    // templates only, never the fleet (claim) template.
    expect(
      resourcesOf(docs.shadow, "iot:Publish", REAL_ARN_PREFIX).filter(
        (r) => !r.includes("/shadow/"),
      ),
    ).toEqual(rotationPublishTopics.map((t) => `topic/${t}`));
    expect(rotationPublishTopics).toContain(
      "$aws/provisioning-templates/*-rotation/provision/json",
    );
    expect(docs.jobs.Statement.some((s) => s.Action === "iot:Connect")).toBe(false);
  });

  it("each document: Allow only, one statement per action, Sids unique", () => {
    for (const part of DEVICE_POLICY_PARTS) {
      const statements = docs[part].Statement;
      expect(statements.every((s) => s.Effect === "Allow")).toBe(true);
      expect(new Set(statements.map((s) => s.Action)).size).toBe(statements.length);
      expect(new Set(statements.map((s) => s.Sid)).size).toBe(statements.length);
    }
  });

  it("are named per stage, within the 10 policies a certificate can carry", () => {
    for (const stage of STAGES) {
      const names = DEVICE_POLICY_PARTS.map((p) => devicePolicyNames(stage)[p]);
      expect(names).toEqual([
        `medusa-${stage}-device`,
        `medusa-${stage}-device-shadow`,
        `medusa-${stage}-device-jobs`,
      ]);
      // IoT policy names: [\w+=,.@-]{1,128}.
      for (const n of names) expect(n).toMatch(/^[\w+=,.@-]{1,128}$/);
      // The claim policy is on another certificate; a device certificate carries these only.
      expect(names.length).toBeLessThanOrEqual(10);
    }
  });
});
