/** Bundles the API server into one ESM file (default `dist/medusa-api.mjs`); see bundle.mjs. */
export declare const bundle: (options?: {
  readonly outfile?: string;
  readonly quiet?: boolean;
}) => Promise<{ readonly outfile: string; readonly bytes: number }>;
