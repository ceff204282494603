import type { HostSpec, VmSpec, VnicMode } from '../../shared/topology/types.js';

/** The datapath a vNIC actually runs in: a mode, or a host without DPU's software switch. */
export type ActiveMode = VnicMode | 'no-dpu';

/** Why a vNIC does not run UPTv2 although it asked for it (as vSphere reports it). */
export type PassthroughBlocker =
  | 'no-dpu'
  | 'insufficient-memory-reservation'
  | 'hardware-version-too-old'
  | 'incompatible-guest-driver'
  | 'no-free-vf';

/** UPTv2 needs virtual hardware 20 or later. */
export const UPT_MIN_HARDWARE_VERSION = 20;
/** vmxnet3 driver version 7 added what UPT needs (capability registers, a large passthrough BAR, out-of-order RX completion). */
export const UPT_MIN_DRIVER_VERSION = 7;

/**
 * The mode a vNIC can run in before asking the DPU for a VF, and why not the one requested.
 * UPTv2 additionally needs a free VF, which only the DPU can say (`no-free-vf` comes later).
 */
export function eligibleMode(host: HostSpec, vm: VmSpec, requested: VnicMode): { mode: ActiveMode; blocker: PassthroughBlocker | null } {
  if (host.dpus.length === 0) return { mode: 'no-dpu', blocker: requested === 'emulated' ? null : 'no-dpu' };
  if (requested !== 'uptv2') return { mode: requested, blocker: null };
  if (vm.memoryReservationMiB < vm.memoryMiB) return { mode: 'emulated', blocker: 'insufficient-memory-reservation' };
  if (vm.hardwareVersion < UPT_MIN_HARDWARE_VERSION) return { mode: 'emulated', blocker: 'hardware-version-too-old' };
  if (vm.driverVersion < UPT_MIN_DRIVER_VERSION) return { mode: 'emulated', blocker: 'incompatible-guest-driver' };
  return { mode: 'uptv2', blocker: null };
}
