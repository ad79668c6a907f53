export * from "./dead-letters.js";
export * from "./event-store.js";
export * from "./read-model.js";
export * from "./sensor-store.js";
