/**
 * For tests of the host's HA decisions: the default lab's first host (two DPUs, three vNICs), a
 * context over a clock the test moves, and heartbeats as the host core would hand them over.
 */
import type { HostSpec } from '../../../shared/topology/types.js';
import { loadDefaultLab } from '../../../shared/topology/load.js';
import { TestContext } from '../../runtime/testing.js';
import type { HaHeartbeat } from '../../pcie/ha-heartbeat.js';

/** esx-01 of the default lab: dpu-01a active, dpu-01b standby, vNICs app-01.eth0, db-01.eth0, web-01.eth0. */
export function labHost(overrides: Partial<HostSpec> = {}): HostSpec {
  const host = loadDefaultLab().nodes.find((n) => n.id === 'esx-01');
  if (host?.kind !== 'host') throw new Error('The default lab has no host esx-01');
  return { ...host.spec, ...overrides };
}

/** A context for the host over a clock the test moves (`ctx.clock.now`). */
export function hostContext(): TestContext {
  return new TestContext('esx-01');
}

/** A heartbeat reply (or status) from a DPU, with healthy defaults. */
export function reply(fields: Partial<HaHeartbeat> = {}): HaHeartbeat {
  return { type: 'reply', seq: 1, role: null, uplinksDown: false, synced: false, epoch: 0, ...fields };
}
