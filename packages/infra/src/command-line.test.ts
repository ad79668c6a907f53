import { describe, expect, it } from "vitest";
import { type HelpAsked, runCommand } from "./command-line.js";

type Parsed = { readonly help: false; readonly name: string };

const captured = () => {
  const out: Array<string> = [];
  const err: Array<string> = [];
  return { out, err, io: { out: (s: string) => out.push(s), err: (s: string) => err.push(s) } };
};

const parseName = (argv: ReadonlyArray<string>): Parsed | HelpAsked => {
  if (argv[0] === "-h") return { help: true };
  if (argv[0] === undefined) throw new Error("--name is required");
  return { help: false, name: argv[0] };
};

describe("runCommand (the operator commands' shell)", () => {
  it("a refused command line prints the reason and the usage: exit 2, nothing run", async () => {
    const c = captured();
    let ran = false;
    const code = await runCommand<Parsed>(c.io, {
      usage: "Usage: x NAME\n",
      prefix: "x: ",
      parse: () => parseName([]),
      run: async () => {
        ran = true;
        return 0;
      },
    });
    expect([code, ran, c.err.join(""), c.out]).toEqual([
      2,
      false,
      "x: --name is required\n\nUsage: x NAME\n",
      [],
    ]);
  });

  it("--help prints the usage: exit 0, nothing run", async () => {
    const c = captured();
    const code = await runCommand<Parsed>(c.io, {
      usage: "Usage: x NAME\n",
      parse: () => parseName(["-h"]),
      run: async () => 9,
    });
    expect([code, c.out.join(""), c.err]).toEqual([0, "Usage: x NAME\n", []]);
  });

  it("runs the command with what was parsed and answers its exit code", async () => {
    const c = captured();
    const code = await runCommand<Parsed>(c.io, {
      usage: "",
      parse: () => parseName(["pi-1"]),
      run: async (parsed) => {
        c.io.out(`hello ${parsed.name}\n`);
        return 3;
      },
    });
    expect([code, c.out.join("")]).toEqual([3, "hello pi-1\n"]);
  });

  it("a failure of the command (AWS or DynamoDB refused) is its message: exit 1", async () => {
    const c = captured();
    const code = await runCommand<Parsed>(c.io, {
      usage: "",
      prefix: "x: ",
      parse: () => parseName(["pi-1"]),
      run: async () => {
        throw new Error("AccessDeniedException: not allowed");
      },
    });
    expect([code, c.err.join("")]).toEqual([1, "x: AccessDeniedException: not allowed\n"]);
  });
});
