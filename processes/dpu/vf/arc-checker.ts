import type { VfioState } from './vfio.js';

/**
 * The VFIO migration v2 arcs as the kernel's uapi header lists them, written out again on their
 * own: the state machine (`vfio.ts`) takes its arcs from its own table, and this checker watches
 * what it did against this one. Two tables, so a mistake in one shows as a violation instead of
 * passing unnoticed. `via: 'error'` arcs into ERROR and `via: 'reset'` arcs out of anything are
 * legal by definition.
 */
const LEGAL = new Set([
  'RUNNING>RUNNING_P2P',
  'RUNNING_P2P>RUNNING',
  'RUNNING_P2P>STOP',
  'STOP>RUNNING_P2P',
  'STOP>STOP_COPY',
  'STOP_COPY>STOP',
  'STOP>RESUMING',
  'RESUMING>STOP',
  'RUNNING>PRE_COPY',
  'PRE_COPY>RUNNING',
  'RUNNING_P2P>PRE_COPY_P2P',
  'PRE_COPY_P2P>RUNNING_P2P',
  'PRE_COPY>PRE_COPY_P2P',
  'PRE_COPY_P2P>PRE_COPY',
  'PRE_COPY_P2P>STOP_COPY',
]);

/** Why an arc a VF took is not a VFIO v2 arc, or null when it is. */
export function illegalArc(from: VfioState, to: VfioState, via: 'arc' | 'error' | 'reset'): string | null {
  if (via === 'reset') return null;
  if (via === 'error') return to === 'ERROR' ? null : `an error took the VF to ${to}, not ERROR`;
  if (from === 'ERROR') return `${from} -> ${to}: ERROR is left only by a reset`;
  return LEGAL.has(`${from}>${to}`) ? null : `${from} -> ${to} is not a VFIO migration v2 arc`;
}
