import { chmodSync, lstatSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import type { StackLog } from "./log.js";

/**
 * Makes everything under `path` owner-only: folders 0700, files 0600 (an
 * executable bit is left alone, group and other bits go). Symbolic links are
 * not followed. Gives back what it changed.
 */
export const tightenTree = (path: string): ReadonlyArray<string> => {
  const changed: Array<string> = [];
  const visit = (p: string) => {
    let st: ReturnType<typeof lstatSync>;
    try {
      st = lstatSync(p);
    } catch (e) {
      // Removed while we walk (a temporary file being renamed): nothing to tighten.
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return;
      throw e;
    }
    if (st.isDirectory()) {
      if (st.mode & 0o077) {
        chmodSync(p, 0o700);
        changed.push(p);
      }
      for (const name of readdirSync(p)) visit(join(p, name));
    } else if (st.isFile() && st.mode & 0o077) {
      chmodSync(p, (st.mode & 0o700) | 0o600);
      changed.push(p);
    }
  };
  visit(path);
  return changed;
};

/**
 * The stack's data folder, owner-only: it holds patients' names and samples
 * (DynamoDB Local's file, the failures file), the development CA's and the
 * devices' private keys, the API's signing secret. Created 0700; one that
 * exists with looser permissions (made by an older version, or by hand) is
 * tightened, with everything in it, and the log says so.
 */
export const ensurePrivateDir = (dir: string, log: StackLog): void => {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const changed = tightenTree(dir);
  if (changed.length > 0)
    log({
      level: "warn",
      msg: "the data folder was open to other users; made owner-only (folders 0700, files 0600)",
      dir,
      count: changed.length,
      paths: changed.slice(0, 10),
    });
};
