/** Test utilities for code built on @medusa/domain: given/when/then, generators, a reference model. */
export * from "./activity-signals.js";
export * from "./arbitraries.js";
export * from "./given.js";
export * from "./motion.js";
export * from "./reference-model.js";
