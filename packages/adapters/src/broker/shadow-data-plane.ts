import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { SHADOW_NAME } from "../shadow/document.js";
import type { DataPlaneAnswer, ShadowService } from "./shadow-service.js";

/**
 * The exception name AWS's REST protocol gives each status
 * (`x-amzn-ErrorType`), so that an AWS SDK client raises the same class it
 * raises against AWS IoT's data plane.
 */
const ERROR_TYPES: Readonly<Record<number, string>> = {
  400: "InvalidRequestException",
  401: "UnauthorizedException",
  403: "ForbiddenException",
  404: "ResourceNotFoundException",
  405: "MethodNotAllowedException",
  409: "ConflictException",
  413: "RequestEntityTooLargeException",
  415: "UnsupportedDocumentEncodingException",
  429: "ThrottlingException",
  500: "InternalFailureException",
  503: "ServiceUnavailableException",
};

/** AWS IoT's data plane takes request bodies up to 128 KB. */
const MAX_BODY_BYTES = 128 * 1024;

export interface ShadowDataPlane {
  /** `http://127.0.0.1:{port}`: the endpoint an IoT data plane client is given. */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

const THING = /^[a-zA-Z0-9:_-]{1,128}$/;

/**
 * AWS IoT's data plane for shadows over HTTP, as `@aws-sdk/client-iot-data-plane`
 * calls it: `GET`, `POST` and `DELETE /things/{thingName}/shadow[?name={shadowName}]`
 * (GetThingShadow, UpdateThingShadow, DeleteThingShadow), answered by the
 * emulated shadow service. It listens on 127.0.0.1 only and does not check
 * request signatures: it is a development stand-in, like the broker's plain listener.
 */
export const startShadowDataPlane = async (
  service: ShadowService,
  options: { readonly port?: number } = {},
): Promise<ShadowDataPlane> => {
  const server = createServer((req, res) => {
    handle(service, req, res).catch(() => send(res, { status: 500, body: internal() }));
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () =>
      resolve((server.address() as AddressInfo).port),
    );
  });
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    close: () =>
      new Promise<void>((done) => {
        server.close(() => done());
        server.closeAllConnections();
      }),
  };
};

const internal = () => ({
  code: 500,
  message: "Internal service failure",
  timestamp: Math.floor(Date.now() / 1000),
});

const send = (res: ServerResponse, answer: DataPlaneAnswer | { status: number; body: unknown }) => {
  if (res.headersSent) return;
  const headers: Record<string, string> = { "content-type": "application/json" };
  const type = ERROR_TYPES[answer.status];
  if (answer.status !== 200 && type) headers["x-amzn-errortype"] = type;
  res.writeHead(answer.status, headers).end(JSON.stringify(answer.body));
};

const failure = (status: number, message: string) => ({
  status,
  body: { code: status, message, timestamp: Math.floor(Date.now() / 1000) },
});

const readBody = (req: IncomingMessage): Promise<Buffer | undefined> =>
  new Promise((resolve, reject) => {
    const chunks: Array<Buffer> = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        resolve(undefined);
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });

const handle = async (service: ShadowService, req: IncomingMessage, res: ServerResponse) => {
  const url = new URL(req.url ?? "/", "http://localhost");
  const match = /^\/things\/([^/]+)\/shadow$/.exec(url.pathname);
  const thing = match ? decodeURIComponent(match[1] as string) : undefined;
  const shadowName = url.searchParams.get("name") ?? undefined;
  if (thing === undefined || !THING.test(thing))
    return send(res, failure(404, `no such resource: ${req.method} ${url.pathname}`));
  if (shadowName !== undefined && !SHADOW_NAME.test(shadowName))
    return send(res, failure(400, "Invalid shadow name"));
  const address = { thing, ...(shadowName !== undefined ? { shadowName } : {}) };
  switch (req.method) {
    case "GET":
      return send(res, await service.get(address));
    case "DELETE":
      return send(res, await service.delete(address));
    case "POST": {
      const body = await readBody(req);
      if (body === undefined)
        return send(res, failure(413, "The payload exceeds the maximum size allowed"));
      return send(res, await service.update(address, body));
    }
    default:
      return send(res, failure(405, `${req.method} is not allowed on a shadow`));
  }
};
