import { Context } from "effect";
import type { OutboxError } from "./errors.js";

export interface OutboxEntry {
  readonly id: number;
  readonly topic: string;
  readonly payload: Buffer;
  readonly appendedAt: number;
}

export interface OutboxStats {
  /** Entries waiting for PUBACK. */
  readonly depth: number;
  /** Their payload bytes. */
  readonly bytes: number;
  /** Entries dropped (oldest first) to stay within the outbox's byte bound, ever. */
  readonly drops: number;
  readonly appended: number;
  readonly acked: number;
  /** Damaged records found and cut off when the outbox was opened. */
  readonly repaired: number;
  /** The most recent failure since the outbox was opened (never cleared), or null. */
  readonly lastError: OutboxError | null;
}

/**
 * Where the device's sample batches wait between being taken and being
 * acknowledged: a batch is appended before it is published and removed after
 * its PUBACK, in order, and survives a restart.
 */
export interface SampleOutboxService {
  /**
   * Resolves once the entry is as durable as configured, or rejects with
   * `OutboxWriteFailed` (nothing of it kept) or `OutboxClosed`.
   */
  append(payload: string | Uint8Array, topic: string): Promise<OutboxEntry>;
  /**
   * Un-acknowledged entries, oldest first; with `after`, only those appended
   * after that id (what a publisher has not taken yet). Only entries whose
   * append has resolved are handed out.
   */
  pending(limit?: number, after?: number): ReadonlyArray<OutboxEntry>;
  /** The newest un-acknowledged entry, if any. */
  newest(): OutboxEntry | undefined;
  /** Removes an entry after its PUBACK. Acks may come in any order. */
  ack(id: number): void;
  stats(): OutboxStats;
  /** Called by the layer that opened the outbox, when its scope closes. */
  close(): Promise<void>;
}

export class SampleOutbox extends Context.Tag("@medusa/SampleOutbox")<
  SampleOutbox,
  SampleOutboxService
>() {}
