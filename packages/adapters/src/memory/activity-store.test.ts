import { activityStoreContract } from "../testing/activity-store-contract.js";
import { makeInMemoryStores } from "./stores.js";

activityStoreContract("in memory", () => makeInMemoryStores(), { numRuns: 25 });
