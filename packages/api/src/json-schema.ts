import { JSONSchema, type Schema } from "effect";

export type JsonSchema = Record<string, unknown>;

/**
 * JSON Schema of an Effect schema (OpenAPI 3.1 uses JSON Schema 2020-12),
 * with its definitions inlined, so every operation reads on its own.
 */
export const jsonSchemaOf = (s: Schema.Schema.Any): JsonSchema => {
  const {
    $schema: _,
    $defs,
    ...root
  } = JSONSchema.make(s, {
    target: "jsonSchema2020-12",
  }) as unknown as JsonSchema & { $defs?: Record<string, JsonSchema> };
  const inline = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(inline);
    if (typeof node !== "object" || node === null) return node;
    const { $ref, ...rest } = node as JsonSchema;
    const target =
      typeof $ref === "string" && $ref.startsWith("#/$defs/")
        ? $defs?.[$ref.slice("#/$defs/".length)]
        : undefined;
    const out: JsonSchema = target ? { ...(inline(target) as JsonSchema) } : {};
    for (const [k, v] of Object.entries(rest)) out[k] = inline(v);
    return out;
  };
  return inline(root) as JsonSchema;
};
