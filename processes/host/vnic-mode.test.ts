import { describe, expect, it } from 'vitest';
import { loadDefaultLab } from '../../shared/topology/load.js';
import type { HostSpec, VmSpec } from '../../shared/topology/types.js';
import { eligibleMode } from './vnic-mode.js';

const lab = loadDefaultLab();
const host = (lab.nodes.find((n) => n.id === 'esx-01') as { spec: HostSpec }).spec;
const vm: VmSpec = host.vms.find((v) => v.id === 'web-01')!;

describe('eligibleMode', () => {
  it('eligibleMode grants UPTv2 to a fully reserved, current VM on a host with DPUs', () => {
    expect(eligibleMode(host, vm, 'uptv2')).toEqual({ mode: 'uptv2', blocker: null });
  });

  it('eligibleMode names each UPTv2 requirement that is not met', () => {
    expect(eligibleMode(host, { ...vm, memoryReservationMiB: vm.memoryMiB / 2 }, 'uptv2')).toEqual({ mode: 'emulated', blocker: 'insufficient-memory-reservation' });
    expect(eligibleMode(host, { ...vm, hardwareVersion: 19 }, 'uptv2')).toEqual({ mode: 'emulated', blocker: 'hardware-version-too-old' });
    expect(eligibleMode(host, { ...vm, driverVersion: 6 }, 'uptv2')).toEqual({ mode: 'emulated', blocker: 'incompatible-guest-driver' });
  });

  it('eligibleMode runs every vNIC of a host without DPUs on the software switch', () => {
    const classic = { ...host, dpus: [] };
    expect(eligibleMode(classic, vm, 'uptv2')).toEqual({ mode: 'no-dpu', blocker: 'no-dpu' });
    expect(eligibleMode(classic, vm, 'mux')).toEqual({ mode: 'no-dpu', blocker: 'no-dpu' });
    expect(eligibleMode(classic, vm, 'emulated')).toEqual({ mode: 'no-dpu', blocker: null });
  });

  it('eligibleMode leaves MUX and emulated as asked on a host with DPUs', () => {
    expect(eligibleMode(host, { ...vm, memoryReservationMiB: 0 }, 'mux')).toEqual({ mode: 'mux', blocker: null });
    expect(eligibleMode(host, vm, 'emulated')).toEqual({ mode: 'emulated', blocker: null });
  });
});
