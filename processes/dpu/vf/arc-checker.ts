import { VFIO_V2_ARCS } from '../../../shared/invariants/devices.js';
import type { VfioState } from './vfio.js';

/**
 * Arcs are judged against the VFIO migration v2 arcs as the invariants write them out
 * (`shared/invariants/devices.ts`), a table apart from the state machine's own (`vfio.ts`): a
 * mistake in one shows as a violation instead of passing unnoticed. `via: 'error'` arcs into ERROR
 * and `via: 'reset'` arcs out of anything are legal by definition.
 */
const LEGAL = VFIO_V2_ARCS;

/** Why an arc a VF took is not a VFIO v2 arc, or null when it is. */
export function illegalArc(from: VfioState, to: VfioState, via: 'arc' | 'error' | 'reset'): string | null {
  if (via === 'reset') return null;
  if (via === 'error') return to === 'ERROR' ? null : `an error took the VF to ${to}, not ERROR`;
  if (from === 'ERROR') return `${from} -> ${to}: ERROR is left only by a reset`;
  return LEGAL.has(`${from}>${to}`) ? null : `${from} -> ${to} is not a VFIO migration v2 arc`;
}
