import { ApiConfigError } from "./config.js";
import { startServer } from "./server.js";

try {
  const server = startServer();
  server.once("listening", () =>
    console.log(
      JSON.stringify({ level: "info", msg: "medusa-api listening", address: server.address() }),
    ),
  );
  const stop = () => server.close(() => process.exit(0));
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
} catch (e) {
  if (e instanceof ApiConfigError) {
    console.error(`medusa-api: ${e.message}`);
    process.exit(2);
  }
  throw e;
}
