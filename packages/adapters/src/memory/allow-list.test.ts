import { allowListContract } from "../testing/allow-list-contract.js";
import { makeInMemoryAllowList } from "./allow-list.js";

const store = makeInMemoryAllowList();
allowListContract("in memory", () => store);
