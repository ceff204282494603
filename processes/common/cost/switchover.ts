/**
 * What a vMotion switchover costs besides the bytes that cross the wire: saving the stunned VM's
 * checkpoint (vCPU and device state) on the source, restoring it on the destination, and resuming
 * the vCPUs there. The transfer of the last dirty pages and of the device state is not modelled
 * here: those travel as frames and take the wire's time. `docs/cost-model.md` gives the sources
 * and marks the assumptions.
 */

/** The fixed and per-item durations of a switchover, in ns of wall time on the host that does them. */
export interface SwitchoverParameters {
  /** Source: quiescing the VM and saving its checkpoint (VMX state, memory map), whatever its size. */
  readonly checkpointBaseNs: number;
  /** Source: saving one vCPU's state. */
  readonly checkpointPerVcpuNs: number;
  /** Source: saving one vNIC's emulated device state. */
  readonly deviceSavePerVnicNs: number;
  /** Destination: loading the checkpoint, whatever the VM's size. */
  readonly restoreBaseNs: number;
  /** Destination: loading one vCPU's state. */
  readonly restorePerVcpuNs: number;
  /** Destination: loading one vNIC's device state into its backend. */
  readonly deviceRestorePerVnicNs: number;
  /** Destination: restarting the vCPUs once everything is loaded. */
  readonly resumeNs: number;
}

/**
 * The defaults. Together they make about 16 ms for a VM of two vCPUs and one vNIC: the part of a
 * published vMotion switchover (1296 pages in about 53 ms at about 145 MB/s, of which the pages
 * alone take about 37 ms) that the pages do not explain. How it splits between save, restore and
 * resume is an assumption.
 */
export const SWITCHOVER_PARAMETERS: SwitchoverParameters = {
  checkpointBaseNs: 5_000_000,
  checkpointPerVcpuNs: 500_000,
  deviceSavePerVnicNs: 1_000_000,
  restoreBaseNs: 5_000_000,
  restorePerVcpuNs: 500_000,
  deviceRestorePerVnicNs: 1_000_000,
  resumeNs: 2_000_000,
};

/** The modelled parts of one VM's switchover, in ns. */
export interface SwitchoverCost {
  /** Source, right after the stun: checkpoint and device state saved. */
  readonly checkpointNs: number;
  /** Destination, after the commit: checkpoint and device state loaded. */
  readonly restoreNs: number;
  /** Destination: vCPUs restarted. */
  readonly resumeNs: number;
}

/** The switchover cost of a VM with `vcpus` vCPUs and `vnics` vNICs. */
export function switchoverCost(vm: { readonly vcpus: number; readonly vnics: number }, p: SwitchoverParameters = SWITCHOVER_PARAMETERS): SwitchoverCost {
  return {
    checkpointNs: p.checkpointBaseNs + vm.vcpus * p.checkpointPerVcpuNs + vm.vnics * p.deviceSavePerVnicNs,
    restoreNs: p.restoreBaseNs + vm.vcpus * p.restorePerVcpuNs + vm.vnics * p.deviceRestorePerVnicNs,
    resumeNs: p.resumeNs,
  };
}
