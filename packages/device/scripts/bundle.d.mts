export declare const bundle: (options?: {
  outfile?: string;
  quiet?: boolean;
  version?: string;
}) => Promise<{ outfile: string; bytes: number }>;
export declare const bundleLauncher: (options?: {
  outfile?: string;
  quiet?: boolean;
}) => Promise<{ outfile: string; bytes: number }>;
