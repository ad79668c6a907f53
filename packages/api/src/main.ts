/** The Node entry point's exports (kept apart from the library index so importing the library starts nothing). */
export { ApiConfigError } from "./config.js";
export { startServer } from "./server.js";
