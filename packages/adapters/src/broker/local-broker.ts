import type { AddressInfo, Server, Socket } from "node:net";
import { createServer as createNetServer } from "node:net";
import { createServer as createTlsServer, type TLSSocket } from "node:tls";
import {
  BASIC_INGEST_PREFIX,
  DeviceId,
  MAX_MESSAGE_BYTES,
  mayPublish,
  maySubscribe,
  parseBasicIngestTopic,
  RuleName,
  topicMatches,
  type Verdict,
} from "@medusa/domain";
import { Aedes, type Client } from "aedes";
import { Option, Schema } from "effect";
import { JobsService, type JobsThrottle, type PresignedUrlResolver } from "./jobs-service.js";
import type { JobsPersistence } from "./jobs-store.js";
import { guardPacketSize } from "./packet-guard.js";
import { payloadBytes } from "./payload.js";
import { publishLifecycleEvents } from "./presence-events.js";
import { ShadowService } from "./shadow-service.js";
import type { ShadowPersistence } from "./shadow-store.js";

export interface LocalBrokerOptions {
  /** TLS port; 0 for a free one. */
  readonly port?: number;
  readonly host?: string;
  readonly tls: { readonly ca: string; readonly cert: string; readonly key: string };
  readonly topicPrefix?: string;
  /** Certificate CNs with the rights of cloud services (subscribe to every device's data, send commands). */
  readonly serviceIdentities?: ReadonlyArray<string>;
  /** A plain listener on 127.0.0.1 for local tools, with service rights. Off unless given. */
  readonly plainListener?: { readonly port: number };
  /**
   * The rule names the IoT policy grants devices for Basic Ingest: a device may
   * publish its own sensor data to `$aws/rules/{rule}/{prefix}/{thing}/sensor/data`
   * for these (`devicePublishTopics`). None unless given.
   */
  readonly basicIngestRules?: ReadonlyArray<string>;
  /**
   * The certificate registry, as AWS IoT keeps one: who a client certificate
   * (its DER) is when the registry knows it. Unknown certificates are
   * identified by their CN, as before. See `fleet-provisioning.ts`.
   */
  readonly principalOf?: (certificateDer: Buffer) => RegisteredPrincipal | undefined;
  /**
   * The Device Shadow service on `$aws/things/{thing}/shadow/…`, as AWS IoT
   * Core runs it: on unless `false`, its shadows kept by `persistence` (in
   * memory when absent).
   */
  readonly shadows?: false | { readonly persistence?: ShadowPersistence };
  /**
   * AWS IoT Jobs on `$aws/things/{thing}/jobs/…` (`jobs-service.ts`): on
   * unless `false`, its jobs kept by `persistence` (in memory when absent),
   * presigned-URL placeholders resolved by `resolvePresignedUrl`.
   */
  readonly jobs?:
    | false
    | {
        readonly persistence?: JobsPersistence;
        readonly resolvePresignedUrl?: PresignedUrlResolver;
        /** The device API's rate limits (AWS's: 200 requests per second per operation). */
        readonly throttle?: JobsThrottle | false;
      };
  readonly log?: (entry: Record<string, unknown>) => void;
}

/**
 * A certificate the registry knows: attached to a thing (its rights are the
 * thing's, whatever its CN), held to a policy of its own (a claim
 * certificate), or not usable (pending activation, inactive).
 */
export type RegisteredPrincipal =
  | { readonly kind: "thing"; readonly thingName: string }
  | {
      readonly kind: "restricted";
      readonly name: string;
      readonly mayConnect: (clientId: string) => Verdict;
      readonly mayPublish: (topic: string) => Verdict;
      readonly maySubscribe: (filter: string) => Verdict;
    }
  | { readonly kind: "refused"; readonly reason: string };

/** A Basic Ingest message as a rule gets it. */
export interface RuleMessage {
  /** As the rule's `topic()` gives it: without the `$aws/rules/{rule}/` prefix. */
  readonly topic: string;
  readonly payload: Buffer;
  /** The publisher's client id (the rule's `clientId()`). */
  readonly clientId: string;
}

/** The rules engine's Basic Ingest side: rules by name, and what did not reach one. */
export interface BasicIngestRules {
  /**
   * The rule `name` (an AWS rule name, 1–128 of `[a-zA-Z0-9_]`) whose SQL
   * selects `FROM filter`: a publish to `$aws/rules/{name}/{topic}` with
   * `topic` matching `filter` is handed to `handler`. Returns what removes
   * the rule again (a deleted rule: its messages are then `ruleNotFound`).
   */
  register(name: string, filter: string, handler: (message: RuleMessage) => void): () => void;
  stats(): {
    /** Handed to a rule. */
    readonly delivered: number;
    /** Dropped: no rule of that name (AWS logs an error and counts `RuleNotFound`). */
    readonly ruleNotFound: number;
    /** Dropped: the rule's FROM filter does not select the topic, so the rule does not run. */
    readonly unmatched: number;
  };
}

export interface LocalBroker {
  readonly port: number;
  readonly plainPort: number | undefined;
  readonly aedes: Aedes;
  /** Refusals so far (what was refused and why). */
  readonly refusals: ReadonlyArray<Record<string, unknown>>;
  /** Basic Ingest: `$aws/rules/{rule}/…` reaches the rule registered here, and no subscriber. */
  readonly rules: BasicIngestRules;
  /** The Device Shadow service (absent when turned off): its data plane calls, its shadows. */
  readonly shadows: ShadowService | undefined;
  /** AWS IoT Jobs (absent when turned off): its control plane, its jobs. */
  readonly jobs: JobsService | undefined;
  close(): Promise<void>;
}

const SERVICE = Symbol("service");
type Identified = Client & {
  [SERVICE]?: boolean;
  thing?: string;
  restricted?: Extract<RegisteredPrincipal, { kind: "restricted" }>;
};

const refused = (message: string, returnCode = 5) =>
  Object.assign(new Error(message), { returnCode });

const isDeviceId = Schema.is(DeviceId);

/**
 * The largest MQTT packet taken, by its fixed header's remaining length: AWS
 * IoT Core's 128 KiB payload and room for the variable header (topic, packet
 * id, MQTT 5 properties). A payload over 128 KiB in a packet under this is
 * refused by size when it is complete (`authorizePublish`); a packet over
 * this is refused as its header arrives, before its body is buffered.
 */
export const MAX_PACKET_BYTES = MAX_MESSAGE_BYTES + 16 * 1024;

/**
 * An embedded MQTT broker (aedes) that stands in for AWS IoT Core locally
 * and enforces what the IoT policy enforces: TLS with client certificates
 * from the given CA only; the client id must be the certificate's CN (the
 * thing name); a device publishes only to its own topics and subscribes only
 * to its own commands; QoS 2 is not available (IoT Core has none: a QoS 2
 * publish is refused and its connection closed, a QoS 2 subscription granted
 * at QoS 1). Like AWS IoT Core it also refuses a certificate whose CN is
 * neither a valid thing name nor a service identity (a CN of `+` would
 * otherwise subscribe with every device's rights), a retained publish (the
 * policy grants no `iot:RetainPublish`; refused like any forbidden publish,
 * by closing the connection), and a packet over `MAX_PACKET_BYTES`, as soon
 * as its header says so. Every refusal is logged with its reason.
 *
 * Basic Ingest is emulated as AWS documents it
 * (https://docs.aws.amazon.com/iot/latest/developerguide/iot-basic-ingest.html):
 * a publish to `$aws/rules/{rule}/{topic}` is checked against the policy like
 * any other (a device: its own sensor data, to a rule `basicIngestRules`
 * names), acknowledged, and handed to the rule registered as `{rule}`
 * (`rules.register`) with the topic its `topic()` would give; it is never
 * delivered to a subscriber, and nobody, a service included, may subscribe to
 * `$aws/rules/…` ("devices and rules cannot subscribe to Basic Ingest reserved
 * topics"). A message for a rule that does not exist is dropped, logged as an
 * error and counted (`ruleNotFound`), as AWS logs it and counts `RuleNotFound`.
 * In-process listeners of aedes's `publish` event still see it, as they see
 * every accepted publish.
 */
export const startLocalBroker = async (options: LocalBrokerOptions): Promise<LocalBroker> => {
  const prefix = options.topicPrefix ?? "medusa";
  const services = new Set(options.serviceIdentities ?? []);
  const refusals: Array<Record<string, unknown>> = [];
  const log = options.log ?? (() => {});
  const refuse = (entry: Record<string, unknown>) => {
    refusals.push(entry);
    log({ level: "warn", msg: "refused", ...entry });
  };

  const basicIngestRules = options.basicIngestRules ?? [];
  for (const rule of basicIngestRules)
    if (!isRuleName(rule))
      throw new Error(`basicIngestRules: "${rule}" is not an AWS IoT rule name`);
  const rules = basicIngestEngine(log);

  const aedes = await Aedes.createBroker({
    authenticate: (client, _username, _password, done) => {
      const c = client as Identified;
      const socket = client.conn as Partial<TLSSocket>;
      if (typeof socket.getPeerCertificate !== "function") {
        // The plain listener: local tools on 127.0.0.1 only.
        c[SERVICE] = true;
        return done(null, true);
      }
      const peer = socket.getPeerCertificate();
      const principal = peer?.raw ? options.principalOf?.(peer.raw) : undefined;
      if (principal !== undefined) {
        const verdict: Verdict =
          principal.kind === "refused"
            ? { allowed: false, reason: principal.reason }
            : principal.kind === "restricted"
              ? principal.mayConnect(client.id)
              : principal.thingName === client.id
                ? { allowed: true }
                : {
                    allowed: false,
                    reason: `the client id must be the name of the certificate's thing, ${principal.thingName}`,
                  };
        if (!verdict.allowed) {
          refuse({ action: "connect", client_id: client.id, reason: verdict.reason });
          return done(refused(verdict.reason), false);
        }
        if (principal.kind === "thing") c.thing = principal.thingName;
        if (principal.kind === "restricted") c.restricted = principal;
        c[SERVICE] = false;
        return done(null, true);
      }
      const cn = peer?.subject?.CN;
      const thing = Array.isArray(cn) ? cn[0] : cn;
      if (thing === undefined || !(services.has(thing) || isDeviceId(thing))) {
        refuse({
          action: "connect",
          client_id: client.id,
          certificate: thing ?? null,
          reason:
            "the certificate's CN is not a valid thing name (1-128 of [a-zA-Z0-9:_-]) nor a service identity",
        });
        return done(refused("the certificate does not name a thing"), false);
      }
      if (thing !== client.id) {
        refuse({
          action: "connect",
          client_id: client.id,
          certificate: thing ?? null,
          reason: "the client id must be the certificate's thing name",
        });
        return done(refused("client id does not match the certificate"), false);
      }
      c.thing = thing;
      c[SERVICE] = services.has(thing);
      return done(null, true);
    },
    authorizePublish: (client, packet, callback) => {
      const c = client as Identified | null;
      if (c === null) return callback(null);
      if (packet.retain) {
        const reason =
          "a retained publish is not allowed: the IoT policy grants no iot:RetainPublish";
        refuse({ action: "publish", client_id: c.id, topic: packet.topic, reason });
        return callback(new Error(reason));
      }
      if (c[SERVICE]) return callback(null);
      if (packet.qos === 2) {
        refuse({
          action: "publish",
          client_id: c.id,
          topic: packet.topic,
          reason: "QoS 2 is not supported (as on AWS IoT Core)",
        });
        return callback(new Error("QoS 2 is not supported"));
      }
      if (packet.payload.length > MAX_MESSAGE_BYTES) {
        const reason = `a ${packet.payload.length}-byte payload is over AWS IoT Core's ${MAX_MESSAGE_BYTES}-byte limit`;
        refuse({ action: "publish", client_id: c.id, topic: packet.topic, reason });
        return callback(new Error(reason));
      }
      const verdict = c.restricted
        ? c.restricted.mayPublish(packet.topic)
        : mayPublish(prefix, c.thing ?? "", packet.topic, basicIngestRules);
      if (verdict.allowed) return callback(null);
      refuse({ action: "publish", client_id: c.id, topic: packet.topic, reason: verdict.reason });
      // aedes then closes the connection, as AWS IoT Core does for a publish its policy forbids.
      return callback(new Error(verdict.reason));
    },
    authorizeSubscribe: (client, subscription, callback) => {
      const c = client as Identified;
      const granted = { ...subscription, qos: Math.min(subscription.qos, 1) as 0 | 1 };
      if (isBasicIngestFilter(subscription.topic)) {
        refuse({
          action: "subscribe",
          client_id: c.id,
          topic: subscription.topic,
          reason:
            "nobody may subscribe to Basic Ingest topics ($aws/rules/…): they reach their rule only",
        });
        return callback(null, null);
      }
      if (c[SERVICE]) return callback(null, granted);
      const verdict = c.restricted
        ? c.restricted.maySubscribe(subscription.topic)
        : maySubscribe(prefix, c.thing ?? "", subscription.topic);
      if (verdict.allowed) return callback(null, granted);
      refuse({
        action: "subscribe",
        client_id: c.id,
        topic: subscription.topic,
        reason: verdict.reason,
      });
      // Negated: SUBACK 0x80 for this filter, the connection stays up.
      return callback(null, null);
    },
    // Every delivery goes through here, queued ones too: a Basic Ingest message reaches its
    // rule (below), and no subscriber, whatever its filter.
    authorizeForward: (_client, packet) =>
      packet.topic.startsWith(BASIC_INGEST_PREFIX) ? null : packet,
  });
  const shadows =
    options.shadows === false
      ? undefined
      : new ShadowService({
          ...(options.shadows?.persistence ? { persistence: options.shadows.persistence } : {}),
          publish: (topic, payload) =>
            aedes.publish(
              {
                cmd: "publish",
                topic,
                payload: Buffer.from(payload),
                qos: 1,
                retain: false,
                dup: false,
              },
              (error) => {
                if (error)
                  log({
                    level: "error",
                    msg: "shadow answer not published",
                    topic,
                    error: error.message,
                  });
              },
            ),
          log: (entry) => log({ component: "shadow", ...entry }),
        });
  const publishReserved = (what: string) => (topic: string, payload: string) =>
    aedes.publish(
      { cmd: "publish", topic, payload: Buffer.from(payload), qos: 1, retain: false, dup: false },
      (error) => {
        if (error)
          log({ level: "error", msg: `${what} not published`, topic, error: error.message });
      },
    );
  const jobs =
    options.jobs === false
      ? undefined
      : new JobsService({
          ...(options.jobs?.persistence ? { persistence: options.jobs.persistence } : {}),
          ...(options.jobs?.resolvePresignedUrl
            ? { resolvePresignedUrl: options.jobs.resolvePresignedUrl }
            : {}),
          ...(options.jobs?.throttle !== undefined ? { throttle: options.jobs.throttle } : {}),
          publish: publishReserved("jobs message"),
          log: (entry) => log({ component: "jobs", ...entry }),
        });
  aedes.on("publish", (packet, client) => {
    if (client === null) return;
    if (packet.topic.startsWith(BASIC_INGEST_PREFIX))
      rules.dispatch(packet.topic, payloadBytes(packet), client.id);
    // A request on a shadow's or jobs' reserved topic, already allowed by the policy (authorizePublish).
    else if (packet.topic.startsWith("$aws/things/")) {
      if (shadows?.handleRequest(packet.topic, payloadBytes(packet), client)) return;
      jobs?.handleRequest(packet.topic, payloadBytes(packet), client);
    }
  });
  // AWS IoT's connect/disconnect lifecycle events on $aws/events/presence/… (presence-events.ts).
  const lifecycle = publishLifecycleEvents(aedes, { refusals, log });
  aedes.on("clientError", (client, error) =>
    log({ level: "debug", msg: "client error", client_id: client.id, error: error.message }),
  );

  const listen = (server: Server, port: number, host: string) =>
    new Promise<number>((resolve, reject) => {
      server.once("error", (e: NodeJS.ErrnoException) =>
        reject(
          e.code === "EADDRINUSE"
            ? new Error(`port ${port} on ${host} is already in use; choose another MQTT port`)
            : e,
        ),
      );
      server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
    });

  /** Hands a connection to aedes, and closes it when a packet announces more than the limit. */
  const handle = (socket: Socket) => {
    const client = aedes.handle(socket);
    guardPacketSize(socket, MAX_PACKET_BYTES, (announced) => {
      refuse({
        action: "packet",
        client_id: client.id ?? null,
        reason:
          announced === "malformed"
            ? "a packet's remaining length is malformed"
            : `a ${announced}-byte packet is over the ${MAX_PACKET_BYTES}-byte limit (AWS IoT Core's ${MAX_MESSAGE_BYTES}-byte payload and its header)`,
      });
      socket.destroy();
    });
  };

  const tls = createTlsServer(
    {
      ca: options.tls.ca,
      cert: options.tls.cert,
      key: options.tls.key,
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: "TLSv1.2",
    },
    handle,
  );
  tls.on("tlsClientError", (error) =>
    log({ level: "warn", msg: "TLS handshake refused", reason: error.message }),
  );
  // Closing a server only stops new connections; the broker going away drops the open ones too.
  const sockets = new Set<Socket>();
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  };
  tls.on("connection", track);
  const port = await listen(tls, options.port ?? 0, options.host ?? "127.0.0.1");
  let plain: Server | undefined;
  let plainPort: number | undefined;
  if (options.plainListener) {
    plain = createNetServer(handle);
    plain.on("connection", track);
    plainPort = await listen(plain, options.plainListener.port, "127.0.0.1");
  }
  return {
    port,
    plainPort,
    aedes,
    refusals,
    rules: { register: rules.register, stats: rules.stats },
    shadows,
    jobs,
    close: async () => {
      lifecycle.closing();
      for (const socket of sockets) socket.destroy();
      await shadows?.close();
      await jobs?.close();
      await Promise.all([
        new Promise<void>((r) => tls.close(() => r())),
        plain ? new Promise<void>((r) => plain.close(() => r())) : Promise.resolve(),
        new Promise<void>((r) => aedes.close(() => r())),
      ]);
    },
  };
};

const isRuleName = Schema.is(RuleName);

/** A filter that could select a Basic Ingest topic by naming `$aws/rules` (a first-level wildcard matches no `$` topic). */
const isBasicIngestFilter = (filter: string) =>
  filter === "$aws/rules" || filter.startsWith(BASIC_INGEST_PREFIX);

/** The rules registered by name, and where a Basic Ingest publish goes. */
const basicIngestEngine = (log: (entry: Record<string, unknown>) => void) => {
  const byName = new Map<string, { filter: string; handler: (message: RuleMessage) => void }>();
  const counts = { delivered: 0, ruleNotFound: 0, unmatched: 0 };
  return {
    register: (name: string, filter: string, handler: (message: RuleMessage) => void) => {
      if (!isRuleName(name)) throw new Error(`"${name}" is not an AWS IoT rule name`);
      if (byName.has(name)) throw new Error(`a rule named ${name} is registered already`);
      const rule = { filter, handler };
      byName.set(name, rule);
      return () => {
        if (byName.get(name) === rule) byName.delete(name);
      };
    },
    stats: () => ({ ...counts }),
    dispatch: (fullTopic: string, payload: Buffer, clientId: string) => {
      const parsed = Option.getOrUndefined(parseBasicIngestTopic(fullTopic));
      const rule = parsed && byName.get(parsed.rule);
      if (!parsed || !rule) {
        counts.ruleNotFound++;
        log({
          level: "error",
          msg: "Basic Ingest message dropped: no such rule (RuleNotFound)",
          rule: parsed?.rule ?? null,
          topic: fullTopic,
          client_id: clientId,
        });
        return;
      }
      if (!topicMatches(rule.filter, parsed.topic)) {
        counts.unmatched++;
        log({
          level: "warn",
          msg: "Basic Ingest message dropped: the rule's FROM filter does not select its topic",
          rule: parsed.rule,
          filter: rule.filter,
          topic: parsed.topic,
          client_id: clientId,
        });
        return;
      }
      counts.delivered++;
      try {
        rule.handler({ topic: parsed.topic, payload, clientId });
      } catch (e) {
        log({
          level: "error",
          msg: "a rule's handler failed",
          rule: parsed.rule,
          error: String(e),
        });
      }
    },
  };
};
