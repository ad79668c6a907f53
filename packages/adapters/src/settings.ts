import { Either, ParseResult, Schema } from "effect";

type Env = Readonly<Record<string, string | undefined>>;

/** A setting an entry point cannot start with; the message names the variable and its value. */
export class SettingError extends Schema.TaggedError<SettingError>()("SettingError", {
  variable: Schema.String,
  problem: Schema.String,
}) {
  override get message(): string {
    return this.problem;
  }
}

/**
 * One environment variable decoded with its schema: `fallback` when it is
 * unset or empty, else the decoded value, or a `SettingError` that reads
 * `NAME=value: why`.
 */
export const setting = <A, F = A>(
  env: Env,
  name: string,
  schema: Schema.Schema<A, string>,
  fallback: F,
): Either.Either<A | F, SettingError> => {
  const raw = env[name];
  if (raw === undefined || raw === "") return Either.right(fallback);
  return Schema.decodeEither(schema)(raw).pipe(
    Either.map((a): A | F => a),
    Either.mapLeft(
      (e) =>
        new SettingError({
          variable: name,
          problem: `${name}=${raw}: ${ParseResult.ArrayFormatter.formatErrorSync(e)[0]?.message ?? "invalid"}`,
        }),
    ),
  );
};

/** Reads a setting, throwing its `SettingError`: for entry points that stop at start-up. */
export const settingOrThrow = <A, F = A>(
  env: Env,
  name: string,
  schema: Schema.Schema<A, string>,
  fallback: F,
): A | F => Either.getOrThrowWith(setting(env, name, schema, fallback), (e) => e);

/** A number from a variable, at least `min`. */
export const NumberAtLeast = (min: number) =>
  Schema.NumberFromString.pipe(
    Schema.filter((n) => Number.isFinite(n) && n >= min, {
      message: () => `must be a number ≥ ${min}`,
    }),
    Schema.annotations({ message: () => `must be a number ≥ ${min}` }),
  );

/** An http(s) URL (an endpoint override). */
export const HttpUrl = Schema.String.pipe(
  Schema.filter((s) => URL.canParse(s) && /^https?:$/.test(new URL(s).protocol), {
    message: () => "must be an http(s) URL",
  }),
);
