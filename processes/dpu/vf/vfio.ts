/**
 * The VFIO migration v2 device state machine (Linux `include/uapi/linux/vfio.h`), which a DPU
 * virtual function follows when its vNIC is handed over, and the path the kernel takes through it.
 *
 * A device moves only along direct arcs. A request for a state further away is walked one arc at a
 * time along the path the kernel's `vfio_mig_get_next_state` table gives; some requests have no
 * path (STOP_COPY back to PRE_COPY, anything out of ERROR, anything into ERROR) and are refused.
 *
 * What each state allows:
 * - RUNNING: normal operation. PRE_COPY: the same while initial state can be read out.
 * - RUNNING_P2P, PRE_COPY_P2P: running, DMA to guest memory and interrupts allowed, but no new
 *   peer-to-peer DMA.
 * - STOP: no DMA, no interrupts, no change of internal state. STOP_COPY: stopped, device state
 *   readable. RESUMING: stopped, device state writable, validated on the way to STOP.
 * - ERROR: the device failed an arc; only a reset leaves it (to RUNNING).
 */

/** The device states, by their uapi names. */
export type VfioState = 'ERROR' | 'STOP' | 'RUNNING' | 'STOP_COPY' | 'RESUMING' | 'RUNNING_P2P' | 'PRE_COPY' | 'PRE_COPY_P2P';

/** Every state, in uapi numeric order (`VFIO_DEVICE_STATE_ERROR` = 0 ... `PRE_COPY_P2P` = 7). */
export const VFIO_STATES: readonly VfioState[] = ['ERROR', 'STOP', 'RUNNING', 'STOP_COPY', 'RESUMING', 'RUNNING_P2P', 'PRE_COPY', 'PRE_COPY_P2P'];

/** The uapi number of a state (`enum vfio_device_mig_state`). */
export function vfioStateNumber(state: VfioState): number {
  return VFIO_STATES.indexOf(state);
}

/** One direct arc of the state machine. */
export interface VfioArc {
  from: VfioState;
  to: VfioState;
}

/** Every direct arc. STOP_COPY -> PRE_COPY is not one; nothing leads out of ERROR but a reset. */
export const VFIO_ARCS: readonly VfioArc[] = [
  { from: 'RUNNING', to: 'RUNNING_P2P' },
  { from: 'RUNNING_P2P', to: 'RUNNING' },
  { from: 'RUNNING_P2P', to: 'STOP' },
  { from: 'STOP', to: 'RUNNING_P2P' },
  { from: 'STOP', to: 'STOP_COPY' },
  { from: 'STOP_COPY', to: 'STOP' },
  { from: 'STOP', to: 'RESUMING' },
  { from: 'RESUMING', to: 'STOP' },
  { from: 'RUNNING', to: 'PRE_COPY' },
  { from: 'PRE_COPY', to: 'RUNNING' },
  { from: 'RUNNING_P2P', to: 'PRE_COPY_P2P' },
  { from: 'PRE_COPY_P2P', to: 'RUNNING_P2P' },
  { from: 'PRE_COPY', to: 'PRE_COPY_P2P' },
  { from: 'PRE_COPY_P2P', to: 'PRE_COPY' },
  { from: 'PRE_COPY_P2P', to: 'STOP_COPY' },
];

/** True when `from -> to` is a direct arc. */
export function legalArc(from: VfioState, to: VfioState): boolean {
  return VFIO_ARCS.some((arc) => arc.from === from && arc.to === to);
}

/**
 * The kernel's next step from a state towards a target (`vfio_from_fsm_table` for a device that
 * supports P2P and PRE_COPY). ERROR as the next step means the request is refused.
 */
const NEXT_STEP: Readonly<Record<VfioState, Readonly<Record<VfioState, VfioState>>>> = {
  STOP: { STOP: 'STOP', RUNNING: 'RUNNING_P2P', PRE_COPY: 'RUNNING_P2P', PRE_COPY_P2P: 'RUNNING_P2P', STOP_COPY: 'STOP_COPY', RESUMING: 'RESUMING', RUNNING_P2P: 'RUNNING_P2P', ERROR: 'ERROR' },
  RUNNING: { STOP: 'RUNNING_P2P', RUNNING: 'RUNNING', PRE_COPY: 'PRE_COPY', PRE_COPY_P2P: 'RUNNING_P2P', STOP_COPY: 'RUNNING_P2P', RESUMING: 'RUNNING_P2P', RUNNING_P2P: 'RUNNING_P2P', ERROR: 'ERROR' },
  PRE_COPY: { STOP: 'RUNNING', RUNNING: 'RUNNING', PRE_COPY: 'PRE_COPY', PRE_COPY_P2P: 'PRE_COPY_P2P', STOP_COPY: 'PRE_COPY_P2P', RESUMING: 'RUNNING', RUNNING_P2P: 'RUNNING', ERROR: 'ERROR' },
  PRE_COPY_P2P: { STOP: 'RUNNING_P2P', RUNNING: 'RUNNING_P2P', PRE_COPY: 'PRE_COPY', PRE_COPY_P2P: 'PRE_COPY_P2P', STOP_COPY: 'STOP_COPY', RESUMING: 'RUNNING_P2P', RUNNING_P2P: 'RUNNING_P2P', ERROR: 'ERROR' },
  STOP_COPY: { STOP: 'STOP', RUNNING: 'STOP', PRE_COPY: 'ERROR', PRE_COPY_P2P: 'ERROR', STOP_COPY: 'STOP_COPY', RESUMING: 'STOP', RUNNING_P2P: 'STOP', ERROR: 'ERROR' },
  RESUMING: { STOP: 'STOP', RUNNING: 'STOP', PRE_COPY: 'STOP', PRE_COPY_P2P: 'STOP', STOP_COPY: 'STOP', RESUMING: 'RESUMING', RUNNING_P2P: 'STOP', ERROR: 'ERROR' },
  RUNNING_P2P: { STOP: 'STOP', RUNNING: 'RUNNING', PRE_COPY: 'RUNNING', PRE_COPY_P2P: 'PRE_COPY_P2P', STOP_COPY: 'STOP', RESUMING: 'STOP', RUNNING_P2P: 'RUNNING_P2P', ERROR: 'ERROR' },
  ERROR: { STOP: 'ERROR', RUNNING: 'ERROR', PRE_COPY: 'ERROR', PRE_COPY_P2P: 'ERROR', STOP_COPY: 'ERROR', RESUMING: 'ERROR', RUNNING_P2P: 'ERROR', ERROR: 'ERROR' },
};

/**
 * The direct arcs the kernel walks to bring a device from `from` to `to` (e.g. RUNNING -> STOP goes
 * through RUNNING_P2P): an empty list when already there, null when the request is refused.
 */
export function pathTo(from: VfioState, to: VfioState): VfioArc[] | null {
  const arcs: VfioArc[] = [];
  let at = from;
  while (at !== to) {
    const next = NEXT_STEP[at][to];
    if (next === 'ERROR') return null;
    arcs.push({ from: at, to: next });
    at = next;
  }
  return arcs;
}

/** States in which the function may DMA to guest memory and raise interrupts. */
export function dmaAllowed(state: VfioState): boolean {
  return state === 'RUNNING' || state === 'RUNNING_P2P' || state === 'PRE_COPY' || state === 'PRE_COPY_P2P';
}

/** States in which the function may start peer-to-peer DMA (to another device's BAR). */
export function peerToPeerAllowed(state: VfioState): boolean {
  return state === 'RUNNING' || state === 'PRE_COPY';
}
