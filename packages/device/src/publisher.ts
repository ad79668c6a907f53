import type { MqttConnectionService } from "@medusa/adapters/mqtt";
import type { SampleOutboxService } from "@medusa/adapters/outbox";
import { Predicate } from "effect";
import { errorText } from "./errors.js";

export interface PublisherOptions {
  readonly outbox: SampleOutboxService;
  readonly transport: MqttConnectionService;
  readonly now: () => number;
  readonly log: (line: string) => void;
  /** Publishes at most this many outbox entries without PUBACK (default 100). */
  readonly maxInflight?: number | undefined;
}

/**
 * The outbox pump: publishes outbox entries while connected (QoS 1, at most
 * `maxInflight` unacknowledged) and removes each from the outbox only after
 * its PUBACK.
 */
export class Publisher {
  private readonly maxInflight: number;
  /** Outbox entries handed to MQTT and not acknowledged yet. */
  private readonly inflight = new Set<number>();
  /** The newest outbox entry handed to MQTT on this connection. */
  private taken = 0;
  private pumping = false;
  private pumpAgain = false;
  private lastPublish: number | null = null;

  constructor(private readonly options: PublisherOptions) {
    this.maxInflight = options.maxInflight ?? 100;
  }

  /** When the last PUBACK came, or null. */
  get lastPublishAt(): number | null {
    return this.lastPublish;
  }

  get inflightCount(): number {
    return this.inflight.size;
  }

  /** A new connection, or the end of one: nothing is in flight on it, everything pending goes (again). */
  reset(): void {
    this.inflight.clear();
    this.taken = 0;
  }

  /** Publishes outbox entries while connected, up to `maxInflight` without PUBACK. */
  pump(): void {
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    try {
      do {
        this.pumpAgain = false;
        const { transport, outbox } = this.options;
        if (!transport.connected) return;
        const free = this.maxInflight - this.inflight.size;
        if (free <= 0) return;
        for (const { id, topic, payload } of outbox.pending(free, this.taken)) {
          if (this.inflight.size >= this.maxInflight || !transport.connected) break;
          this.taken = Math.max(this.taken, id);
          if (this.inflight.has(id)) continue;
          this.inflight.add(id);
          transport.publish(topic, payload).then(
            () => {
              this.inflight.delete(id);
              this.lastPublish = this.options.now();
              outbox.ack(id);
              this.pump();
            },
            (e: unknown) => {
              this.inflight.delete(id);
              if (Predicate.isTagged(e, "PayloadTooLarge")) {
                // It can never be sent (the batcher keeps batches well under the limit).
                this.options.log(`outbox entry ${id} dropped: ${errorText(e)}`);
                outbox.ack(id);
                return;
              }
              // Not acknowledged: it stays in the outbox and goes again, after a reconnect at the latest.
              this.taken = Math.min(this.taken, id - 1);
            },
          );
        }
      } while (this.pumpAgain);
    } catch (e) {
      // Reading the outbox failed (a failing disk): the next flush or PUBACK tries again.
      this.options.log(`publishing paused: ${errorText(e)}`);
    } finally {
      this.pumping = false;
    }
  }

  /**
   * Gives what is in flight and what waits in the outbox up to `graceMs` to
   * get out, while connected; what is left waits in the outbox for the next start.
   */
  async drain(graceMs: number): Promise<void> {
    const deadline = Date.now() + graceMs; // real time, whatever clock the samples use
    while (
      (this.inflight.size > 0 || this.options.outbox.stats().depth > 0) &&
      this.options.transport.connected &&
      Date.now() < deadline
    ) {
      this.pump();
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}
