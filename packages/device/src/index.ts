/**
 * @medusa/device: the agent that runs on each wearable. Configuration,
 * sampling with batching, the durable outbox, MQTT, status, device info and
 * remote commands. The `medusa-device` command is `src/cli.ts`.
 */
export * from "./agent.js";
export * from "./batcher.js";
export * from "./cli.js";
export * from "./commands.js";
export * from "./config.js";
export * from "./run.js";
