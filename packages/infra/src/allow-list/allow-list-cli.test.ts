import { epochMillis } from "@medusa/domain";
import { Either } from "effect";
import { describe, expect, it } from "vitest";
import { entriesOf, parseCommandLine, readManufacturingList, UsageError } from "./cli.js";

const at = epochMillis(1_764_000_000_000);

describe("a manufacturing list", () => {
  it("with a header: the serial, batch and claim certificate columns in any order, quoted cells, comments", () => {
    const text = [
      "\uFEFFBatch,Serial Number,model",
      '"2026-01, line 2",10000000abcdef01,Pi 5',
      "# a comment",
      "",
      '"say ""hi""",10000000abcdef02,Pi 5',
    ].join("\r\n");
    expect(readManufacturingList(text)).toEqual([
      { line: 2, serialNumber: "10000000abcdef01", batch: "2026-01, line 2" },
      { line: 5, serialNumber: "10000000abcdef02", batch: 'say "hi"' },
    ]);
  });

  it("a quoted cell across lines keeps its row's first line; a quote left open is an error that names its line", () => {
    const text = 'serial,batch\n0001,"line 1\nline 2"\n0002,b\n';
    expect(readManufacturingList(text)).toEqual([
      { line: 2, serialNumber: "0001", batch: "line 1\nline 2" },
      { line: 4, serialNumber: "0002", batch: "b" },
    ]);
    expect(() => readManufacturingList('serial\n"0001\n')).toThrow(/Quote Not Closed.*line 2/);
  });

  it("without a header: the first column of every line", () => {
    expect(readManufacturingList("00000001\n00000002,extra\n")).toEqual([
      { line: 1, serialNumber: "00000001" },
      { line: 2, serialNumber: "00000002" },
    ]);
  });

  it("is taken whole or not at all: every bad row and every repeat named with its line", () => {
    const rows = readManufacturingList("serial\n0001\nnot a serial\n0002\n0001\n");
    const result = entriesOf(rows, {}, at);
    expect(Either.isLeft(result) && result.left).toEqual([
      expect.stringMatching(/^line 3: "not a serial": .*1-64 characters/),
      "line 5: 0001 is listed on line 2 already",
    ]);
  });

  it("gets the batch and claim certificate given on the command line where a row has none", () => {
    const claim = "a".repeat(64);
    const rows = readManufacturingList("serial,batch\n0001,own\n0002,\n");
    expect(entriesOf(rows, { batch: "cli", claimCertificateId: claim }, at)).toEqual(
      Either.right([
        { serialNumber: "0001", batch: "own", claimCertificateId: claim, addedAt: at },
        { serialNumber: "0002", batch: "cli", claimCertificateId: claim, addedAt: at },
      ]),
    );
  });
});

describe("the command line", () => {
  it("finds the table by stage, by name, or from the environment", () => {
    const table = (argv: Array<string>, env = {}) => {
      const p = parseCommandLine(argv, env);
      return p.help ? undefined : p.table;
    };
    expect(table(["list", "--stage", "prod"])).toBe("prod-medusa-device-allow-list");
    expect(table(["list", "--table", "mine"])).toBe("mine");
    expect(table(["list"], { MEDUSA_TABLE_PREFIX: "t-" })).toBe("t-medusa-device-allow-list");
    expect(table(["list"])).toBe("medusa-device-allow-list");
  });

  it("refuses what it cannot do, naming it", () => {
    const refuses = (argv: Array<string>, message: RegExp) =>
      expect(() => parseCommandLine(argv, {})).toThrow(
        expect.objectContaining({ name: "UsageError", message: expect.stringMatching(message) }),
      );
    refuses([], /a command is required/);
    refuses(["import"], /one FILE/);
    refuses(["add"], /one or more serial numbers/);
    refuses(["list", "--stage", "qa"], /--stage qa: one of dev, prod/);
    refuses(
      ["add", "1", "--claim-certificate-id", "xyz"],
      /--claim-certificate-id: .*64 lowercase hex/,
    );
    refuses(["frobnicate"], /unknown command frobnicate/);
    expect(() => parseCommandLine(["list", "--nope"], {})).toThrow(UsageError);
  });
});
