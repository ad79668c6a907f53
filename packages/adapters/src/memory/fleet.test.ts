import { alertsContract, deviceStatusesContract } from "../testing/fleet-contract.js";
import { makeInMemoryAlerts } from "./alerts.js";
import { makeInMemoryDeviceStatuses } from "./device-statuses.js";

const statuses = makeInMemoryDeviceStatuses();
deviceStatusesContract("in memory", () => statuses);
const alerts = makeInMemoryAlerts();
alertsContract("in memory", () => alerts);
