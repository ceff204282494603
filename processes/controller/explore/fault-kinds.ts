/**
 * The kinds of fault episodes the explorer draws, as `--faults` names them. A module of its own so
 * that the command line can list them without loading the explorer.
 */
export const FAULT_KINDS = ['kill', 'link', 'impair', 'failover', 'vmotion', 'dfw', 'reserve'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];
