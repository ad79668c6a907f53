import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { CertificateRegistry } from "./certificate-registry.js";
import { LOCAL_ACCOUNT, LOCAL_REGION } from "./jobs-control-plane.js";

const certificateArn = (id: string) => `arn:aws:iot:${LOCAL_REGION}:${LOCAL_ACCOUNT}:cert/${id}`;

export interface CertificatesControlPlane {
  /** `http://127.0.0.1:{port}`: the endpoint an `IoTClient` is given. */
  readonly url: string;
  close(): Promise<void>;
}

const send = (res: ServerResponse, status: number, body: unknown, errorType?: string) => {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (errorType) headers["x-amzn-errortype"] = errorType;
  res.writeHead(status, headers).end(JSON.stringify(body));
};

const notFound = (res: ServerResponse, message: string) =>
  send(res, 404, { message }, "ResourceNotFoundException");

/**
 * The part of AWS IoT's control plane certificate rotation's retirement calls,
 * over HTTP as `@aws-sdk/client-iot` calls it, answered by the local broker's
 * certificate registry: ListThingPrincipals (`GET /things/{thingName}/principals`,
 * `maxResults`/`nextToken` pages), DescribeCertificate
 * (`GET /certificates/{certificateId}`) and UpdateCertificate
 * (`PUT /certificates/{certificateId}?newStatus=ACTIVE|INACTIVE`). On 127.0.0.1
 * only, signatures not checked: a development stand-in like the Jobs control plane.
 */
export const startCertificatesControlPlane = async (
  registry: CertificateRegistry,
): Promise<CertificatesControlPlane> => {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const parts = url.pathname.split("/").slice(1).map(decodeURIComponent);
    if (
      req.method === "GET" &&
      parts.length === 3 &&
      parts[0] === "things" &&
      parts[2] === "principals"
    ) {
      const thing = registry.thing(parts[1] ?? "");
      if (!thing) return notFound(res, `Thing ${parts[1]} cannot be found.`);
      const max = Math.min(Number(url.searchParams.get("maxResults") ?? 25) || 25, 100);
      const from = Number(url.searchParams.get("nextToken") ?? 0) || 0;
      const page = thing.principals.slice(from, from + max);
      const more = from + max < thing.principals.length;
      return send(res, 200, {
        principals: page.map(certificateArn),
        ...(more ? { nextToken: String(from + max) } : {}),
      });
    }
    if (parts.length === 2 && parts[0] === "certificates") {
      const id = parts[1] ?? "";
      const certificate = registry.certificate(id);
      if (!certificate) return notFound(res, `The certificate ${id} cannot be found.`);
      if (req.method === "GET")
        return send(res, 200, {
          certificateDescription: {
            certificateId: id,
            certificateArn: certificateArn(id),
            status: certificate.status,
            certificatePem: certificate.certificatePem,
          },
        });
      if (req.method === "PUT") {
        const status = url.searchParams.get("newStatus");
        if (status !== "ACTIVE" && status !== "INACTIVE")
          return send(
            res,
            400,
            { message: `newStatus ${status} is not supported here` },
            "InvalidRequestException",
          );
        if (!registry.updateCertificateStatus(id, status))
          return send(
            res,
            409,
            { message: `certificate ${id} cannot become ${status}` },
            "InvalidStateTransitionException",
          );
        return send(res, 200, {});
      }
    }
    return send(
      res,
      404,
      { message: `no such resource: ${req.method} ${url.pathname}` },
      "ResourceNotFoundException",
    );
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
};
