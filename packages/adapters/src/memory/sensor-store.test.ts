import { sensorStoreContract } from "../testing/sensor-store-contract.js";
import { makeInMemorySensorStore } from "./sensor-store.js";

const store = makeInMemorySensorStore();
sensorStoreContract("in memory", () => store);
