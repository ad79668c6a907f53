/**
 * @medusa/domain: the pure model of MeDUSA Link. Schemas for every shape that
 * crosses a boundary, the assignment event log (decide / evolve), projections,
 * enrichment by event time, topics, and the event-store port. No I/O, no
 * clock, no randomness: times and ids arrive as arguments.
 */
export * from "./assignment.js";
export * from "./commands.js";
export * from "./decide.js";
export * from "./enrichment.js";
export * from "./errors.js";
export * from "./event-store.js";
export * from "./ids.js";
export * from "./projections.js";
export * from "./sample.js";
export * from "./service.js";
export * from "./storage.js";
export * from "./telemetry.js";
export * from "./topic-rights.js";
export * from "./topics.js";
