import { describe, expect, it } from 'vitest';
import { DEFAULT_LAB_FILE, DEFAULT_LAB_YAML, loadTopology } from '../topology/load.js';
import { emptyClusterState, type ClusterEvent, type ClusterState } from './cluster-state.js';
import { applyEvent } from './fold.js';
import { dpuRoleView, nodeCondition, vnicStateView } from './node-view.js';
import { lastFailover, vmHostOf } from './queries.js';

const topology = loadTopology(DEFAULT_LAB_YAML, DEFAULT_LAB_FILE);

/**
 * A run's events as its nodes record them (kinds, payloads and order as in a recorded run of the
 * default lab), folded as they are written.
 */
class Run {
  readonly state: ClusterState = emptyClusterState();
  private seq = 0;
  private ms = 0;

  at(ms: number): this {
    this.ms = ms;
    return this;
  }

  emit(node: string, kind: string, payload: Record<string, unknown>): this {
    const event: ClusterEvent = { seq: this.seq++, vtime: Math.round(this.ms * 1e6), node, kind, cause: null, payload };
    applyEvent(this.state, event);
    return this;
  }

  role(dpu: string): string | null {
    return dpuRoleView(this.state, topology, dpu)!.role;
  }

  condition(dpu: string): string {
    return nodeCondition(this.state, topology, dpu);
  }

  serving(vnic: string): string {
    const view = vnicStateView(this.state, topology, vnic)!;
    const s = view.serving;
    return `${view.host} ${s.device === 'vf' ? `${s.dpu} vf ${s.vf}` : `backend via ${s.dpu}`}`;
  }

  /** Every node starts; each host reports its DPUs by policy, and its vNICs bind a VF on the active DPU. */
  boot(): this {
    this.at(0);
    for (const node of topology.nodes) this.emit('controller', 'node.start', { node: node.id, kind: node.kind, incarnation: 0 });
    for (const [dpu, role] of [['dpu-01a', 'active'], ['dpu-01b', 'standby'], ['dpu-02a', 'active'], ['dpu-02b', 'standby']] as const) {
      this.emit(dpu, 'ha.role', { dpu, from: null, to: role, reason: 'policy' });
    }
    this.emit('esx-01', 'dpu.state', { dpu: 'dpu-01a', state: 'MANAGED', role: 'active', reason: 'boot' });
    this.emit('esx-01', 'dpu.state', { dpu: 'dpu-01b', state: 'MANAGED', role: 'standby', reason: 'boot' });
    this.emit('esx-01', 'vnic.mode', { vnic: 'app-01.eth0', vm: 'app-01', requested: 'uptv2', active: 'emulated', reason: 'awaiting-vf' });
    this.emit('esx-01', 'vnic.mode', { vnic: 'db-01.eth0', vm: 'db-01', requested: 'mux', active: 'mux', reason: null });
    this.emit('esx-01', 'vnic.mode', { vnic: 'web-01.eth0', vm: 'web-01', requested: 'uptv2', active: 'emulated', reason: 'awaiting-vf' });
    this.emit('esx-02', 'dpu.state', { dpu: 'dpu-02a', state: 'MANAGED', role: 'active', reason: 'boot' });
    this.emit('esx-02', 'dpu.state', { dpu: 'dpu-02b', state: 'MANAGED', role: 'standby', reason: 'boot' });
    this.emit('esx-02', 'vnic.mode', { vnic: 'web-02.eth0', vm: 'web-02', requested: 'uptv2', active: 'emulated', reason: 'awaiting-vf' });
    this.at(0.002);
    this.bind('esx-01', 'app-01.eth0', 'dpu-01a', 0);
    this.bind('esx-02', 'web-02.eth0', 'dpu-02a', 0);
    this.bind('esx-01', 'web-01.eth0', 'dpu-01a', 1);
    return this;
  }

  /** A vNIC's state goes to a VF on `dpu`: it runs UPTv2. */
  bind(host: string, vnic: string, dpu: string, vf: number): this {
    const vm = vnic.split('.')[0]!;
    this.emit(dpu, 'vf.state', { vf, vnic, from: 'RUNNING_P2P', to: 'RUNNING', via: 'arc' });
    this.emit(host, 'vnic.handoff', { vnic, vm, direction: 'emulated-to-vf', host, dpu, vf, cause: 'mode' });
    return this.emit(host, 'vnic.mode', { vnic, vm, requested: 'uptv2', active: 'uptv2', reason: null });
  }

  /** `dpu`'s process is killed; its host declares it failed after three misses and moves `vnics` to `to`. */
  failover(host: string, dpu: string, to: string, vnics: ReadonlyArray<readonly [vnic: string, vf: number]>, reason = 'crash'): this {
    if (reason === 'crash') {
      this.emit('controller', 'node.exit', { node: dpu, incarnation: 0, code: null, signal: 'SIGKILL', planned: true, reason: null });
      this.at(this.ms + 300);
      this.emit(host, 'dpu.heartbeat.miss', { dpu, seq: 15, misses: 3 });
      this.emit(host, 'dpu.state', { dpu, state: 'UNAVAILABLE', role: 'active', reason: 'heartbeat-lost' });
    }
    this.emit(host, 'dpu.failed', { dpu, reason, detectNs: 399_997_984, to });
    this.emit(host, 'dpu.role', { dpu: to, role: 'active', reason });
    this.emit(host, 'dpu.role', { dpu, role: 'standby', reason });
    for (const [vnic] of vnics) {
      const vm = vnic.split('.')[0]!;
      this.emit(host, 'vnic.failover', { vnic, vm, from: dpu, to, lostTx: 0, mode: 'emulated' });
      this.emit(host, 'vnic.mode', { vnic, vm, requested: 'uptv2', active: 'emulated', reason: 'awaiting-vf' });
    }
    this.emit(to, 'ha.role', { dpu: to, from: 'standby', to: 'active', reason: 'host' });
    if (reason !== 'crash') this.emit(dpu, 'ha.role', { dpu, from: 'active', to: 'standby', reason: 'host' });
    for (const [vnic, vf] of vnics) this.bind(host, vnic, to, vf);
    return this.emit(host, 'dpu.failover.done', { kind: 'failover', from: dpu, to, reason, detectNs: 399_997_984, totalNs: 400_000_071, vnics: vnics.map(([vnic]) => ({ vnic, mode: 'uptv2' })) });
  }

  /** A killed DPU boots again and its host takes it back as standby. */
  restart(host: string, dpu: string): this {
    this.emit('controller', 'node.start', { node: dpu, kind: 'dpu', incarnation: 1 });
    this.emit(dpu, 'ha.role', { dpu, from: null, to: 'pending', reason: 'restart' });
    this.at(this.ms + 1);
    this.emit(dpu, 'ha.role', { dpu, from: 'pending', to: 'standby', reason: 'host' });
    this.emit(host, 'dpu.state', { dpu, state: 'MANAGED', role: 'standby', reason: 'heartbeat-restored' });
    return this.emit(host, 'dpu.role', { dpu, role: 'standby', reason: 'rejoined' });
  }

  /** web-01 leaves esx-01 (its VF handed back to the emulated backend) and arrives on esx-02, whose active DPU is `dpu`. */
  vmotionWeb01(dpu: string, result: 'success' | 'aborted', vf = 1): this {
    const mid = `web-01/esx-01/${this.seq}`;
    this.emit('esx-01', 'vmotion.start', { mid, vm: 'web-01', from: 'esx-01', to: 'esx-02', memoryMiB: 2048 });
    this.emit('dpu-01a', 'vf.state', { vf: 1, vnic: 'web-01.eth0', from: 'STOP', to: 'STOP_COPY', via: 'arc' });
    this.emit('esx-01', 'vnic.handoff', { vnic: 'web-01.eth0', vm: 'web-01', direction: 'vf-to-emulated', host: 'esx-01', dpu: 'dpu-01a', vf: null, cause: 'vmotion' });
    this.emit('esx-01', 'vnic.mode', { vnic: 'web-01.eth0', vm: 'web-01', requested: 'uptv2', active: 'emulated', reason: 'vmotion-in-progress' });
    this.at(this.ms + 600);
    this.emit('esx-01', 'vmotion.stun', { mid, vm: 'web-01', host: 'esx-01', remainingPages: 3, rounds: 1 });
    // The destination restores the vNIC on its emulated backend before the VM resumes there.
    this.emit('esx-02', 'vnic.mode', { vnic: 'web-01.eth0', vm: 'web-01', requested: 'uptv2', active: 'emulated', reason: 'vmotion-in-progress' });
    if (result === 'aborted') {
      this.emit('esx-02', 'vmotion.incoming.dropped', { mid, vm: 'web-01', from: 'esx-01', reason: 'dfw-malformed' });
      this.emit('esx-01', 'vmotion.done', { mid, vm: 'web-01', from: 'esx-01', to: 'esx-02', result, reason: 'destination-dropped', rounds: 1, switchoverNs: null, downtimeNs: null });
      this.emit('esx-01', 'vnic.mode', { vnic: 'web-01.eth0', vm: 'web-01', requested: 'uptv2', active: 'emulated', reason: 'awaiting-vf' });
      return this;
    }
    this.emit('esx-02', 'vmotion.resume', { mid, vm: 'web-01', host: 'esx-02', from: 'esx-01', switchoverNs: 944_215 });
    this.emit('esx-02', 'vnic.mode', { vnic: 'web-01.eth0', vm: 'web-01', requested: 'uptv2', active: 'emulated', reason: 'awaiting-vf' });
    this.bind('esx-02', 'web-01.eth0', dpu, vf);
    return this.emit('esx-02', 'vmotion.done', { mid, vm: 'web-01', from: 'esx-01', to: 'esx-02', result, reason: null, rounds: 1, switchoverNs: 944_215, downtimeNs: 4_996_534 });
  }
}

describe('cluster state fold: DPU roles and serving devices', () => {
  it('fold boots each DPU in its policy role and serves each UPTv2 vNIC from a VF on the active DPU', () => {
    const run = new Run().boot();
    expect(['dpu-01a', 'dpu-01b', 'dpu-02a', 'dpu-02b'].map((d) => run.condition(d))).toEqual(['active', 'standby', 'active', 'standby']);
    expect(run.serving('web-02.eth0')).toBe('esx-02 dpu-02a vf 0');
    expect(run.serving('db-01.eth0')).toBe('esx-01 backend via dpu-01a');
    expect(run.state.vms['web-02']).toEqual({ host: 'esx-02', since: 0, migration: null });
  });

  it('fold after a failover draws the standby active, the killed DPU failed, and the vNICs on the new DPU', () => {
    const run = new Run().boot().at(1000);
    run.emit('controller', 'node.exit', { node: 'dpu-02a', incarnation: 0, code: null, signal: 'SIGKILL', planned: true, reason: null });
    // Killed, not yet noticed: the host still says active, its vNIC still goes there.
    expect(run.condition('dpu-02a')).toBe('failed');
    expect(run.role('dpu-02a')).toBe('active');
    expect(run.serving('web-02.eth0')).toBe('esx-02 dpu-02a vf 0');
    run.at(1300).emit('esx-02', 'dpu.state', { dpu: 'dpu-02a', state: 'UNAVAILABLE', role: 'active', reason: 'heartbeat-lost' });
    run.emit('esx-02', 'dpu.failed', { dpu: 'dpu-02a', reason: 'crash', detectNs: 399_997_984, to: 'dpu-02b' });
    run.emit('esx-02', 'dpu.role', { dpu: 'dpu-02b', role: 'active', reason: 'crash' });
    run.emit('esx-02', 'dpu.role', { dpu: 'dpu-02a', role: 'standby', reason: 'crash' });
    // The host has decided; the DPU taking over has not heard yet, and no vNIC has moved.
    expect(run.condition('dpu-02b')).toBe('active');
    expect(dpuRoleView(run.state, topology, 'dpu-02b')).toMatchObject({ role: 'active', ownRole: 'standby', roleReason: 'crash' });
    expect(lastFailover(run.state, 'esx-02')).toMatchObject({ from: 'dpu-02a', to: 'dpu-02b', result: null, endedAt: null });
    run.emit('esx-02', 'vnic.failover', { vnic: 'web-02.eth0', vm: 'web-02', from: 'dpu-02a', to: 'dpu-02b', lostTx: 21, mode: 'emulated' });
    expect(run.serving('web-02.eth0')).toBe('esx-02 backend via dpu-02b');
    run.emit('dpu-02b', 'ha.role', { dpu: 'dpu-02b', from: 'standby', to: 'active', reason: 'host' });
    run.bind('esx-02', 'web-02.eth0', 'dpu-02b', 0);
    run.emit('esx-02', 'dpu.failover.done', { kind: 'failover', from: 'dpu-02a', to: 'dpu-02b', reason: 'crash', detectNs: 1, totalNs: 2, vnics: [{ vnic: 'web-02.eth0', mode: 'uptv2' }] });
    expect(dpuRoleView(run.state, topology, 'dpu-02b')).toMatchObject({ condition: 'active', role: 'active', ownRole: 'active' });
    expect(dpuRoleView(run.state, topology, 'dpu-02a')).toMatchObject({ condition: 'failed', role: 'standby', ownRole: null, state: 'UNAVAILABLE', failure: { reason: 'crash', to: 'dpu-02b' } });
    expect(run.serving('web-02.eth0')).toBe('esx-02 dpu-02b vf 0');
    expect(run.state.hosts['esx-02']!.activeDpu).toBe('dpu-02b');
    expect(lastFailover(run.state, 'esx-02')).toMatchObject({ kind: 'failover', result: 'done', totalNs: 2, vnics: [{ vnic: 'web-02.eth0', mode: 'uptv2' }] });
    // The other host is untouched.
    expect([run.condition('dpu-01a'), run.condition('dpu-01b')]).toEqual(['active', 'standby']);
  });

  it('fold keeps the failed DPU standby when it restarts, and forgets the VFs of its last life', () => {
    const run = new Run().boot().at(1000).failover('esx-02', 'dpu-02a', 'dpu-02b', [['web-02.eth0', 0]]);
    expect(run.state.vfs['dpu-02a']).toBeDefined();
    run.at(2000).restart('esx-02', 'dpu-02a');
    expect(dpuRoleView(run.state, topology, 'dpu-02a')).toMatchObject({ condition: 'standby', role: 'standby', ownRole: 'standby', roleReason: 'rejoined', state: 'MANAGED' });
    expect(run.condition('dpu-02b')).toBe('active');
    expect(run.state.vfs['dpu-02a']).toBeUndefined();
    expect(run.serving('web-02.eth0')).toBe('esx-02 dpu-02b vf 0');
  });

  it('fold while a restarted DPU waits for its role shows the role its host gives it, not pending', () => {
    const run = new Run().boot().at(1000).failover('esx-02', 'dpu-02a', 'dpu-02b', [['web-02.eth0', 0]]);
    run.at(2000).emit('controller', 'node.start', { node: 'dpu-02a', kind: 'dpu', incarnation: 1 });
    run.emit('dpu-02a', 'ha.role', { dpu: 'dpu-02a', from: null, to: 'pending', reason: 'restart' });
    expect(dpuRoleView(run.state, topology, 'dpu-02a')).toMatchObject({ condition: 'unavailable', role: 'standby', ownRole: 'pending' });
  });

  it('fold after a failback gives the preferred DPU its vNICs and the active role back', () => {
    const run = new Run().boot().at(1000).failover('esx-02', 'dpu-02a', 'dpu-02b', [['web-02.eth0', 0]]);
    run.at(2000).restart('esx-02', 'dpu-02a');
    run.at(2500).failover('esx-02', 'dpu-02b', 'dpu-02a', [['web-02.eth0', 0]], 'failback');
    expect([run.condition('dpu-02a'), run.condition('dpu-02b')]).toEqual(['active', 'standby']);
    expect(dpuRoleView(run.state, topology, 'dpu-02b')).toMatchObject({ role: 'standby', ownRole: 'standby', roleReason: 'failback' });
    expect(run.serving('web-02.eth0')).toBe('esx-02 dpu-02a vf 0');
    expect(run.state.failovers.map((f) => `${f.from}>${f.to} ${f.reason} ${f.result}`)).toEqual(['dpu-02a>dpu-02b crash done', 'dpu-02b>dpu-02a failback done']);
  });

  it('fold after a failover on each host shows both promoted DPUs active', () => {
    const run = new Run().boot().at(1000).failover('esx-02', 'dpu-02a', 'dpu-02b', [['web-02.eth0', 0]]);
    run.at(2000).failover('esx-01', 'dpu-01a', 'dpu-01b', [
      ['app-01.eth0', 0],
      ['web-01.eth0', 1],
    ]);
    expect(['dpu-01a', 'dpu-01b', 'dpu-02a', 'dpu-02b'].map((d) => run.condition(d))).toEqual(['failed', 'active', 'failed', 'active']);
    expect(['app-01.eth0', 'web-01.eth0', 'web-02.eth0'].map((v) => run.serving(v))).toEqual(['esx-01 dpu-01b vf 0', 'esx-01 dpu-01b vf 1', 'esx-02 dpu-02b vf 0']);
  });

  it('fold after two failovers of one host (the second back to the restarted DPU) shows it active again', () => {
    const run = new Run().boot().at(1000).failover('esx-02', 'dpu-02a', 'dpu-02b', [['web-02.eth0', 0]]);
    run.at(2000).restart('esx-02', 'dpu-02a');
    run.at(2500).failover('esx-02', 'dpu-02b', 'dpu-02a', [['web-02.eth0', 0]]);
    expect([run.condition('dpu-02a'), run.condition('dpu-02b')]).toEqual(['active', 'failed']);
    expect(run.role('dpu-02b')).toBe('standby');
    expect(run.serving('web-02.eth0')).toBe('esx-02 dpu-02a vf 0');
    expect(run.state.hosts['esx-02']!.activeDpu).toBe('dpu-02a');
  });

  it('fold follows a VM moved by vMotion onto a host that then fails over: its vNIC ends on the new DPU', () => {
    const run = new Run().boot().at(500).vmotionWeb01('dpu-02a', 'success');
    expect(vmHostOf(run.state, 'web-01', 'esx-01')).toBe('esx-02');
    expect(run.serving('web-01.eth0')).toBe('esx-02 dpu-02a vf 1');
    run.at(2000).failover('esx-02', 'dpu-02a', 'dpu-02b', [
      ['web-01.eth0', 1],
      ['web-02.eth0', 0],
    ]);
    expect(run.serving('web-01.eth0')).toBe('esx-02 dpu-02b vf 1');
    expect(run.serving('web-02.eth0')).toBe('esx-02 dpu-02b vf 0');
    expect(vmHostOf(run.state, 'web-01', 'esx-01')).toBe('esx-02');
  });

  it('fold after a failover then a vMotion serves the arriving vNIC from the DPU that took over', () => {
    const run = new Run().boot().at(1000).failover('esx-02', 'dpu-02a', 'dpu-02b', [['web-02.eth0', 0]]);
    run.at(2200).vmotionWeb01('dpu-02b', 'success');
    expect(run.serving('web-01.eth0')).toBe('esx-02 dpu-02b vf 1');
  });

  it('fold leaves an aborted vMotion\'s VM and vNIC on the source, served through the source\'s DPU', () => {
    const run = new Run().boot().at(500).vmotionWeb01('dpu-02a', 'aborted');
    expect(vmHostOf(run.state, 'web-01', 'esx-01')).toBe('esx-01');
    expect(run.serving('web-01.eth0')).toBe('esx-01 backend via dpu-01a');
    run.bind('esx-01', 'web-01.eth0', 'dpu-01a', 2);
    expect(run.serving('web-01.eth0')).toBe('esx-01 dpu-01a vf 2');
  });

  it('fold marks a host\'s vNICs disconnected when no DPU can take over, and connected again when one does', () => {
    const run = new Run().boot().at(1000);
    run.emit('esx-02', 'dpu.failover.impossible', { dpu: 'dpu-02a', reason: 'standby-not-managed', cause: 'crash', vnicsDisconnected: true, vnics: ['web-02.eth0'], message: 'x' });
    expect(vnicStateView(run.state, topology, 'web-02.eth0')!.disconnected).toBe('no-failover: standby-not-managed');
    expect(lastFailover(run.state, 'esx-02')).toMatchObject({ kind: 'impossible', result: 'impossible', impossibleReason: 'standby-not-managed' });
    run.emit('esx-02', 'dpu.vnics.reconnected', { dpu: 'dpu-02a', reason: 'uplinks-up', vnics: ['web-02.eth0'] });
    expect(vnicStateView(run.state, topology, 'web-02.eth0')!.disconnected).toBeNull();
    expect(run.state.hosts['esx-02']!.disconnected).toBeNull();
  });
});
