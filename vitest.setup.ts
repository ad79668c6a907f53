import fc from "fast-check";

// Every property runs at least 1,000 cases unless FC_NUM_RUNS says otherwise
// (a local quick run); a failure prints the seed and the shrunk counterexample.
fc.configureGlobal({ numRuns: Number(process.env.FC_NUM_RUNS ?? 1000) });
