import {
  intervalCacheLayer,
  rememberingRecentWrites,
  type StoragePorts,
  systemClock,
} from "@medusa/adapters";
import { type AssignmentIntervals, type Clock, SensorStore } from "@medusa/domain";
import { Cause, Effect, Exit, Layer, type ManagedRuntime } from "effect";

/** The storage ports, as `dynamoLayer` or `storesLayer` give them. */
export type Storage = StoragePorts;

/** Every port the use cases run on. */
export type Services = Storage | AssignmentIntervals | Clock;

/**
 * The one layer a process (a Lambda container, the local stack) runs the use
 * cases with: the stores, the sensor store remembering what it wrote lately
 * (a QoS 1 redelivery to the same process is not written again), the
 * assignment intervals cached for `cacheTtlMs` over the event store, and the
 * clock (the system's unless given).
 */
export const servicesLayer = (
  storage: Layer.Layer<Storage>,
  options: { readonly cacheTtlMs: number; readonly clock?: Layer.Layer<Clock> },
): Layer.Layer<Services> =>
  Layer.mergeAll(
    intervalCacheLayer(options.cacheTtlMs),
    Layer.effect(SensorStore, Effect.map(SensorStore, rememberingRecentWrites)),
  ).pipe(Layer.provideMerge(Layer.merge(storage, options.clock ?? systemClock)));

/**
 * Runs a use case; a failure rejects with the typed error itself (its tag and
 * fields are what a Lambda's failure destination records), not Effect's wrapper.
 */
export const runOrReject = <A, E, R>(
  runtime: ManagedRuntime.ManagedRuntime<R, never>,
  effect: Effect.Effect<A, E, R>,
): Promise<A> =>
  runtime.runPromiseExit(effect).then((exit) => {
    if (Exit.isSuccess(exit)) return exit.value;
    throw Cause.squash(exit.cause);
  });
