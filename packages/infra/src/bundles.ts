import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { HANDLERS, type HandlerName } from "./access.js";

/** `@medusa/lambda`'s bundler (plain ESM, no types): esbuild, one ESM file per handler. */
type Bundle = (options: {
  outdir: string;
  quiet: boolean;
}) => Promise<ReadonlyArray<{ name: string; bytes: number }>>;

const BUNDLE_SCRIPT = fileURLToPath(new URL("../../lambda/scripts/bundle.mjs", import.meta.url));

/** Where `bundleHandlers` writes by default: beside the package, ignored by git. */
export const DEFAULT_BUNDLE_DIR = fileURLToPath(new URL("../cdk.out-bundles", import.meta.url));

/**
 * Functions bundled beside the handlers whose table access `TABLE_ACCESS`
 * lists: the pre-provisioning hook (its one GetItem is granted by `FleetProvisioning`), and
 * certificate rotation's hook (no I/O; `CertificateRotation`).
 */
const OTHER_BUNDLES = ["provisioning", "rotation-hook"] as const;
type BundleName = HandlerName | (typeof OTHER_BUNDLES)[number];

/** Every function the stack deploys, each bundled as `<name>.mjs` exporting `handler`. */
export const BUNDLED_FUNCTIONS: ReadonlyArray<BundleName> = [...HANDLERS, ...OTHER_BUNDLES];

/** Per function, the directory holding its bundle (`<name>.mjs`): a Lambda asset. */
export type HandlerBundles = Readonly<Record<BundleName, string>>;

/**
 * Builds the Lambda handlers with `@medusa/lambda`'s own bundler, locally
 * (esbuild; no Docker, no network), one directory per handler holding
 * `<name>.mjs`, so each function's asset is its own bundle only. The source
 * maps stay out of the assets (eight times the bundle's size); they remain in
 * `<outdir>/all` for reading a stack trace.
 */
export const bundleHandlers = async (
  outdir: string = DEFAULT_BUNDLE_DIR,
): Promise<HandlerBundles> => {
  const { bundle } = (await import(pathToFileURL(BUNDLE_SCRIPT).href)) as { bundle: Bundle };
  const built = join(outdir, "all");
  const names = BUNDLED_FUNCTIONS;
  for (const dir of ["all", ...names]) rmSync(join(outdir, dir), { recursive: true, force: true });
  const sizes = await bundle({ outdir: built, quiet: true });
  const bundles = {} as Record<BundleName, string>;
  for (const name of names) {
    if (!sizes.some((s) => s.name === name))
      throw new Error(`@medusa/lambda built no ${name} handler`);
    const dir = join(outdir, name);
    mkdirSync(dir, { recursive: true });
    // Without its map beside it, the bundle must not point at one.
    const source = readFileSync(join(built, `${name}.mjs`), "utf8");
    writeFileSync(
      join(dir, `${name}.mjs`),
      source.replace(/\n\/\/# sourceMappingURL=\S+\s*$/, "\n"),
    );
    bundles[name] = dir;
  }
  return bundles;
};
