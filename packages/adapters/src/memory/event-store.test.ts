import { eventStoreContract } from "../testing/event-store-contract.js";
import { makeInMemoryEventStore } from "./event-store.js";

const store = makeInMemoryEventStore();
eventStoreContract("in memory", () => store, { concurrency: 50 });
