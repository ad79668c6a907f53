/**
 * @medusa/adapters/outbox: the device's sample outbox port and its durable
 * on-disk implementation, with the errors it reports.
 */
export {
  OutboxClosed,
  type OutboxError,
  OutboxMaintenanceFailed,
  OutboxWriteFailed,
} from "./errors.js";
export {
  type JournalOptions,
  journalLayer,
  openJournal,
  SampleJournal,
  type SampleJournalService,
} from "./journal.js";
export { type Durability, type OutboxOptions, openOutbox, outboxLayer } from "./outbox.js";
export {
  type OutboxEntry,
  type OutboxStats,
  SampleOutbox,
  type SampleOutboxService,
} from "./sample-outbox.js";
