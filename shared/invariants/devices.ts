/**
 * Device invariants: a vNIC keeps its MAC, a VF moves only along VFIO migration v2 arcs and logs
 * every one, the guest's view of its rings equals the device's after every hand-off.
 *
 * Events read: `vmotion.transfer` (vnics [{vnic, mac, device {mac}}]), `vnic.handoff` (vnic,
 * registers {mac}), `net.rarp` (vnic, mac), `vmotion.checker.violation` (checker mac-unchanged),
 * `vf.state` (vf, vnic, from, to, via), `vf.checker.violation`, `vnic.checker.violation`,
 * `node.start`.
 */
import { NONE, refOf, type CheckedEvent, type Invariant, type InvariantContext, type InvariantMonitor, type Violation } from './types.js';
import { TopologyIndex, typed } from './world.js';

/** `mac-stable`: the MAC a vNIC carries never changes, across vMotion, hand-offs and failovers. */
export const macStable: Invariant = {
  id: 'mac-stable',
  meaning: "A vNIC's MAC never changes across a vMotion, a hand-off or a failover: every state and announcement carries the topology's MAC",
  start(context: InvariantContext): InvariantMonitor {
    const index = new TopologyIndex(context.topology);
    const reported = new Set<string>();

    function check(e: CheckedEvent, vnic: string | null, mac: string | undefined, where: string): Violation[] {
      if (vnic === null || typeof mac !== 'string') return [];
      const expected = index.vnics.get(vnic)?.mac.toLowerCase();
      if (expected === undefined || mac.toLowerCase() === expected) return [];
      const key = `${vnic}:${mac}`;
      if (reported.has(key)) return [];
      reported.add(key);
      return [{ invariant: 'mac-stable', message: `vNIC ${vnic} carries MAC ${mac} in ${where}, not its own ${expected}`, event: refOf(e) }];
    }

    return {
      observe(event) {
        const e = typed(event);
        if (e === null) return NONE;
        switch (e.kind) {
          case 'vnic.handoff':
            return check(e, e.payload.vnic, e.payload.registers?.mac, `its ${e.payload.direction} hand-off`);
          case 'net.rarp':
            return check(e, e.payload.vnic, e.payload.mac, 'the RARP announcing it');
          case 'vmotion.transfer': {
            const out: Violation[] = [];
            for (const v of e.payload.vnics ?? []) {
              out.push(...check(e, v.vnic, v.mac, 'the switchover state'));
              out.push(...check(e, v.vnic, v.device?.mac, "the switchover state's emulated device"));
            }
            return out.length === 0 ? NONE : out;
          }
          case 'vmotion.checker.violation':
            if (e.payload.checker !== 'mac-unchanged') return NONE;
            return [{ invariant: 'mac-stable', message: `${e.node}'s vMotion checker: ${e.payload.detail} (VM ${e.payload.vm})`, event: refOf(e) }];
          default:
            return NONE;
        }
      },
      finish: () => NONE,
    };
  },
};

/**
 * The VFIO migration v2 arcs (Linux `include/uapi/linux/vfio.h`), written out again here rather
 * than imported from the DPU's state machine, so that a mistake in one is caught by the other.
 */
export const VFIO_V2_ARCS: ReadonlySet<string> = new Set([
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

/** The state a VF is in when its DPU boots. */
export const VF_INITIAL_STATE = 'RUNNING';

/**
 * `vf-arcs`: consecutive `vf.state` events of one VF chain (each starts where the last ended), and
 * each is a VFIO v2 arc (`via: arc`), a failure into ERROR (`via: error`) or a function-level reset
 * back to RUNNING (`via: reset`). A VF's chain starts at RUNNING when its DPU boots.
 */
export const vfArcs: Invariant = {
  id: 'vf-arcs',
  meaning: 'A VF moves only along VFIO migration v2 arcs (or into ERROR, or reset to RUNNING) and logs every move: each vf.state starts where the last one ended',
  start(): InvariantMonitor {
    const state = new Map<string, { state: string; event: CheckedEvent | null }>();
    return {
      observe(event) {
        const e = typed(event);
        if (e === null) return NONE;
        if (e.kind === 'node.start') {
          for (const key of [...state.keys()]) if (key.startsWith(`${e.payload.node}#`)) state.delete(key);
          return NONE;
        }
        if (e.kind === 'vf.checker.violation') {
          const p = e.payload;
          return [{ invariant: 'vf-arcs', message: `${e.node} VF ${p.vf} (${String(p.vnic)}): ${p.problem}`, event: refOf(e) }];
        }
        if (e.kind !== 'vf.state') return NONE;
        const { vf, from, to } = e.payload;
        const key = `${e.node}#${vf}`;
        const last = state.get(key) ?? { state: VF_INITIAL_STATE, event: null };
        state.set(key, { state: to, event: e });
        const out: Violation[] = [];
        if (from !== last.state) {
          const since = last.event ? `its last logged move (seq ${last.event.seq}) left it in ${last.state}` : `it starts in ${last.state} when ${e.node} boots`;
          out.push({ invariant: 'vf-arcs', message: `${e.node} VF ${vf} (${String(e.payload.vnic)}) moved from ${from} to ${to}, but ${since}: a move went unlogged`, event: refOf(e) });
        }
        const via = e.payload.via;
        const legal = via === 'arc' ? VFIO_V2_ARCS.has(`${from}>${to}`) : via === 'error' ? to === 'ERROR' : via === 'reset' ? to === 'RUNNING' : false;
        if (!legal) out.push({ invariant: 'vf-arcs', message: `${e.node} VF ${vf} (${String(e.payload.vnic)}) took ${from} -> ${to} via ${String(via)}, which VFIO migration v2 does not allow`, event: refOf(e) });
        return out.length === 0 ? NONE : out;
      },
      finish: () => NONE,
    };
  },
};

/** `ring-view`: after every hand-off the guest driver's view of its rings equals the device's (`vnic.checker.violation` never fires). */
export const ringView: Invariant = {
  id: 'ring-view',
  meaning: "The guest's ring view equals the device's after every hand-off: the host's vNIC checker never reports a difference",
  start(): InvariantMonitor {
    return {
      observe(event) {
        const e = typed(event);
        if (e?.kind !== 'vnic.checker.violation') return NONE;
        const p = e.payload;
        return [{ invariant: 'ring-view', message: `vNIC ${p.vnic} after ${p.change}: the guest's view differs from the device: ${(p.problems ?? []).join('; ')}`, event: refOf(e) }];
      },
      finish: () => NONE,
    };
  },
};
