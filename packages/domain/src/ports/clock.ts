import { Context, type Effect } from "effect";
import type { EpochMillis } from "../ids.js";

/**
 * The time now, as the use cases read it (the domain's functions take it as
 * an argument). Production reads the system clock; tests set it.
 */
export class Clock extends Context.Tag("@medusa/Clock")<
  Clock,
  { readonly now: Effect.Effect<EpochMillis> }
>() {}
