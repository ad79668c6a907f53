/** Bundles the agent into one ESM file (default `dist/medusa-device.mjs`); see bundle.mjs. */
export declare const bundle: (options?: {
  readonly outfile?: string;
  readonly quiet?: boolean;
}) => Promise<{ readonly outfile: string; readonly bytes: number }>;
