import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Template } from "aws-cdk-lib/assertions";
import { buildApp } from "./app.js";
import { bundleHandlers, type HandlerBundles } from "./bundles.js";
import type { InfraSettings } from "./settings.js";
import type { MedusaStack } from "./stack.js";

export interface Synthesized {
  readonly stack: MedusaStack;
  readonly settings: InfraSettings;
  readonly template: Template;
  /** The raw template, for what the assertions library does not reach. */
  readonly json: CfnTemplate;
}

export interface CfnResource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
  readonly DeletionPolicy?: string;
  readonly UpdateReplacePolicy?: string;
}

export interface CfnTemplate {
  readonly Resources: Record<string, CfnResource>;
  readonly Parameters?: Record<string, Record<string, unknown>>;
  readonly Outputs?: Record<string, { Value: unknown }>;
}

/**
 * Bundles the handlers once (real esbuild bundles, as `synth` makes them) and
 * synthesizes one template per context; `dispose` removes the temporary files.
 */
export const synthesizer = async () => {
  const dir = mkdtempSync(join(tmpdir(), "medusa-infra-"));
  const bundles: HandlerBundles = await bundleHandlers(join(dir, "bundles"));
  // A console build's shape (index.html, a hashed asset): synthesis stages it as an asset.
  const consoleDir = join(dir, "console");
  mkdirSync(join(consoleDir, "assets"), { recursive: true });
  writeFileSync(join(consoleDir, "index.html"), "<!doctype html><title>console</title>");
  writeFileSync(join(consoleDir, "assets", "index-abc123.js"), "export {};");
  let n = 0;
  return {
    synth: (context: Record<string, unknown>): Synthesized => {
      const { stack, settings } = buildApp({
        bundles,
        context,
        outdir: join(dir, `out-${n++}`),
        consoleDir,
      });
      const template = Template.fromStack(stack);
      return { stack, settings, template, json: template.toJSON() as CfnTemplate };
    },
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
};

/** A resource whose properties are there (empty when the template has none). */
export type Resource = CfnResource & { readonly Properties: Record<string, unknown> };

/** Resources of one type, by logical id. */
export const resourcesOf = (json: CfnTemplate, type: string): Array<[string, Resource]> =>
  Object.entries(json.Resources)
    .filter(([, r]) => r.Type === type)
    .map(([id, r]) => [id, { ...r, Properties: r.Properties ?? {} }]);

/**
 * A CloudFormation value as text: `Fn::Join` joined, `Ref` as `<Name>`,
 * `Fn::GetAtt` as `<Id.Attr>` — enough to read ARNs the template builds.
 */
export const flatten = (value: unknown): string => {
  if (typeof value === "string") return value;
  if (value && typeof value === "object") {
    const v = value as Record<string, unknown>;
    if ("Ref" in v) return `<${String(v.Ref)}>`;
    if ("Fn::GetAtt" in v) return `<${(v["Fn::GetAtt"] as Array<string>).join(".")}>`;
    if ("Fn::Join" in v) {
      const [sep, parts] = v["Fn::Join"] as [string, Array<unknown>];
      return parts.map(flatten).join(sep);
    }
  }
  return JSON.stringify(value);
};
