import { describe, expect, it } from 'vitest';
import { macStable, ringView, vfArcs } from './devices.js';
import { noCoreError, noDoubleDelivery } from './node-reports.js';
import { LogBuilder, msNs, violationsOf } from './testing.js';

const MAC = '00:50:56:b8:e8:ee';

/** A VF of dpu-01a serving web-01.eth0 going to STOP_COPY for a vMotion, as the DPU logs it. */
/** dpu-01a's VF 1 (serving web-01.eth0) logs a move from one VFIO state to another. */
function vfMove(log: LogBuilder, from: string, to: string, via: 'arc' | 'reset' | 'error' = 'arc') {
  return log.emit('dpu-01a', 'vf.state', { vf: 1, vnic: 'web-01.eth0', from, to, via });
}

function toStopCopy(log: LogBuilder): void {
  vfMove(log, 'RUNNING', 'RUNNING_P2P');
  vfMove(log, 'RUNNING_P2P', 'STOP');
  vfMove(log, 'STOP', 'STOP_COPY');
}

describe('mac-stable', () => {
  it('mac-stable passes when every hand-off, transfer and RARP carries the vNIC MAC', () => {
    const log = new LogBuilder().boot();
    log.at(500).emit('esx-01', 'vnic.handoff', { vnic: 'web-01.eth0', direction: 'vf-to-emulated', registers: { mac: MAC } });
    log.emit('esx-01', 'vmotion.transfer', { mid: 'm', vnics: [{ vnic: 'web-01.eth0', mac: MAC.toUpperCase(), device: { mac: MAC } }] });
    log.emit('esx-02', 'net.rarp', { vnic: 'web-01.eth0', mac: MAC });
    expect(violationsOf(macStable, log.events, msNs(1000))).toEqual([]);
  });

  it("mac-stable fails when the switchover state's device carries another MAC", () => {
    const log = new LogBuilder().boot();
    const transfer = log.at(500).emit('esx-01', 'vmotion.transfer', { mid: 'm', vnics: [{ vnic: 'web-01.eth0', mac: MAC, device: { mac: '00:50:56:00:00:01' } }] });
    const found = violationsOf(macStable, log.events, msNs(1000));
    expect(found).toEqual([{ invariant: 'mac-stable', message: `vNIC web-01.eth0 carries MAC 00:50:56:00:00:01 in the switchover state's emulated device, not its own ${MAC}`, event: { seq: transfer.seq, vtime: transfer.vtime, node: 'esx-01', kind: 'vmotion.transfer' } }]);
  });

  it("mac-stable reports the host's own mac-unchanged checker", () => {
    const log = new LogBuilder().boot();
    log.at(500).emit('esx-02', 'vmotion.checker.violation', { vm: 'web-01', checker: 'mac-unchanged', detail: 'restored MAC differs' });
    expect(violationsOf(macStable, log.events, msNs(1000)).map((v) => v.invariant)).toEqual(['mac-stable']);
  });
});

describe('vf-arcs', () => {
  it('vf-arcs passes a chain of VFIO v2 arcs from RUNNING, a reset, and a DPU restart starting over', () => {
    const log = new LogBuilder().boot();
    log.at(1);
    toStopCopy(log);
    vfMove(log, 'STOP_COPY', 'RUNNING', 'reset');
    vfMove(log, 'RUNNING', 'ERROR', 'error');
    log.at(10).kill('dpu-01a');
    log.start('dpu-01a', 1);
    toStopCopy(log);
    expect(violationsOf(vfArcs, log.events, msNs(1000))).toEqual([]);
  });

  it('vf-arcs fails when a released VF goes from STOP_COPY to RUNNING without a vf.state', () => {
    const log = new LogBuilder().boot();
    log.at(1);
    toStopCopy(log);
    const jump = vfMove(log.at(800), 'RUNNING', 'RUNNING_P2P');
    const found = violationsOf(vfArcs, log.events, msNs(1000));
    expect(found).toHaveLength(1);
    expect(found[0]!.event.seq).toBe(jump.seq);
    expect(found[0]!.message).toBe(`dpu-01a VF 1 (web-01.eth0) moved from RUNNING to RUNNING_P2P, but its last logged move (seq ${jump.seq - 1}) left it in STOP_COPY: a move went unlogged`);
  });

  it('vf-arcs fails on an arc VFIO v2 forbids (STOP_COPY to PRE_COPY), and on a reset that does not land in RUNNING', () => {
    const log = new LogBuilder().boot();
    log.at(1);
    toStopCopy(log);
    vfMove(log, 'STOP_COPY', 'PRE_COPY');
    vfMove(log, 'PRE_COPY', 'STOP', 'reset');
    const found = violationsOf(vfArcs, log.events, msNs(1000));
    expect(found.map((v) => v.message)).toEqual([
      'dpu-01a VF 1 (web-01.eth0) took STOP_COPY -> PRE_COPY via arc, which VFIO migration v2 does not allow',
      'dpu-01a VF 1 (web-01.eth0) took PRE_COPY -> STOP via reset, which VFIO migration v2 does not allow',
    ]);
  });
});

describe('ring-view', () => {
  it('ring-view passes without a vNIC checker report and fails on one', () => {
    const log = new LogBuilder().boot();
    log.at(500).emit('esx-01', 'vnic.handoff', { vnic: 'web-01.eth0', direction: 'vf-to-emulated', registers: { mac: MAC } });
    expect(violationsOf(ringView, log.events, msNs(1000))).toEqual([]);
    const report = log.emit('esx-01', 'vnic.checker.violation', { vnic: 'web-01.eth0', change: 'vf-to-emulated', problems: ['tx ring 0 consumer index 5, device 6'] });
    expect(violationsOf(ringView, log.events, msNs(1000))).toEqual([
      { invariant: 'ring-view', message: "vNIC web-01.eth0 after vf-to-emulated: the guest's view differs from the device: tx ring 0 consumer index 5, device 6", event: { seq: report.seq, vtime: report.vtime, node: 'esx-01', kind: 'vnic.checker.violation' } },
    ]);
  });
});

describe('no-double-delivery and no-core-error', () => {
  it('no-double-delivery turns the destination checker report into a violation, leaving MAC reports to mac-stable', () => {
    const log = new LogBuilder().boot();
    log.at(500).emit('esx-02', 'vmotion.checker.violation', { vm: 'web-01', checker: 'mac-unchanged', detail: 'x' });
    expect(violationsOf(noDoubleDelivery, log.events, msNs(1000))).toEqual([]);
    log.emit('esx-02', 'vmotion.checker.violation', { vm: 'web-01', checker: 'no-double-delivery', detail: 'frame 1a2b delivered twice' });
    expect(violationsOf(noDoubleDelivery, log.events, msNs(1000)).map((v) => v.message)).toEqual(["esx-02's vMotion checker no-double-delivery on VM web-01: frame 1a2b delivered twice"]);
  });

  it('no-core-error fails on node.error', () => {
    const log = new LogBuilder().boot();
    expect(violationsOf(noCoreError, log.events, msNs(1000))).toEqual([]);
    log.at(3).emit('dpu-02b', 'node.error', { message: 'Cannot read properties of undefined', while: 'frame' });
    expect(violationsOf(noCoreError, log.events, msNs(1000)).map((v) => v.message)).toEqual(['dpu-02b failed while handling a frame: Cannot read properties of undefined']);
  });

  it('no-core-error fails when a node process dies unasked, not when a step kills it', () => {
    const log = new LogBuilder().boot();
    log.at(2).kill('dpu-01a');
    expect(violationsOf(noCoreError, log.events, msNs(1000))).toEqual([]);
    log.at(3).emit('controller', 'node.exit', { node: 'tor-a', incarnation: 0, code: 1, signal: null, planned: false, reason: 'exited with code 1' });
    expect(violationsOf(noCoreError, log.events, msNs(1000)).map((v) => v.message)).toEqual(['Node tor-a died unasked: exited with code 1']);
  });
});
