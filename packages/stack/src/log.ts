/** Where the stack's parts write their JSON log lines. */
export type StackLog = (entry: Record<string, unknown>) => void;
