import { describe, expect, it } from 'vitest';
import { loadDefaultLab } from '../../../shared/topology/load.js';
import { DPU_MGMT_IP, HOST_MGMT_IP } from '../../pcie/heartbeat.js';
import { DpuHaManager } from '../../host/ha/failover.js';
import type { FailoverDecision } from '../../host/ha/failover.js';
import { buildHaHeartbeat, parseHaHeartbeat } from '../../pcie/ha-heartbeat.js';
import { DistributedFirewall } from '../../vds/dfw/firewall.js';
import { DB, WEB, rule, tcp } from '../../vds/dfw/testing.js';
import { captureState } from './change-tracker.js';
import { DpuHaAgent } from './dpu-ha-agent.js';
import type { HaDatapathHooks, PromoteReason } from './dpu-ha-agent.js';
import { hostRelay, mgmtRelayTable } from '../../pcie/mgmt-network.js';
import { commitReplica, installReplicatedRules } from './replica.js';
import type { SyncReplica } from './replica.js';
import { TestLab } from '../../runtime/testing.js';
import type { TestContext } from '../../runtime/testing.js';

const lab = loadDefaultLab();
const host = lab.nodes.find((n) => n.id === 'esx-01')!;
if (host.kind !== 'host') throw new Error('The default lab has no host esx-01');
const hostSpec = host.spec;
const MS = 1_000_000;
const SSH = rule({ id: 'ssh', action: 'allow', service: { protocol: 'tcp', destinationPorts: [{ from: 22, to: 22 }] } });

/** A DPU datapath reduced to its firewall serving one vNIC (WEB) when active. */
class FakeDatapath implements HaDatapathHooks {
  readonly firewall: DistributedFirewall;
  serving = false;
  readonly promotions: PromoteReason[] = [];

  constructor(readonly dpu: string) {
    this.firewall = new DistributedFirewall({ node: dpu, defaultAction: 'drop' });
  }

  capture(now: number): ReturnType<typeof captureState> {
    return captureState(this.firewall, null, this.serving ? [WEB.vnic] : [], now);
  }

  promote(ctx: TestContext, replica: SyncReplica, reason: PromoteReason): void {
    this.promotions.push(reason);
    if (reason === 'takeover') commitReplica(ctx, replica, this.firewall);
    if (!this.firewall.attached(WEB.vnic)) this.firewall.attach(WEB);
    this.serving = true;
  }

  demote(): void {
    this.firewall.detach(WEB.vnic);
    this.serving = false;
  }

  replicated(ctx: TestContext, replica: SyncReplica): void {
    installReplicatedRules(ctx, replica, this.firewall);
  }
}

interface DpuNode {
  ctx: TestContext;
  agent: DpuHaAgent;
  datapath: FakeDatapath;
  alive: boolean;
}

/**
 * esx-01 with its two DPUs: the host sends version 2 heartbeats naming each DPU's role every
 * 100 ms, declares a DPU UNAVAILABLE after three misses, relays management frames between the
 * DPUs and follows its HA manager's decisions (restoring every vNIC at once).
 */
class Cluster {
  readonly lab = new TestLab();
  readonly clock = this.lab.clock;
  readonly events = this.lab.events;
  readonly hostCtx = this.lab.context('esx-01', () => this.heartbeatTick(), { random: 0.5, onSend: (port, bytes) => this.put(port, 'pcie', bytes) });
  readonly manager = new DpuHaManager(hostSpec);
  readonly dpus = new Map<string, DpuNode>();
  readonly decisions: FailoverDecision[] = [];
  private readonly table = mgmtRelayTable(lab, 'esx-01');
  private readonly beats = new Map<string, { seq: number; answered: number; misses: number; state: 'MANAGED' | 'UNAVAILABLE' }>();

  constructor() {
    for (const dpu of ['dpu-01a', 'dpu-01b']) {
      this.dpus.set(dpu, this.newDpu(dpu));
      this.beats.set(dpu, { seq: 0, answered: 0, misses: 0, state: 'MANAGED' });
    }
  }

  dpu(id: string): DpuNode {
    return this.dpus.get(id)!;
  }

  boot(): void {
    for (const node of this.dpus.values()) {
      node.datapath.firewall.setRules(node.ctx, [SSH], 1);
      node.agent.boot(node.ctx);
    }
    this.hostCtx.setTimer(0, 'hb.tick');
  }

  /** The DPU dies: it takes nothing more and its timers are gone. */
  kill(id: string): void {
    const node = this.dpu(id);
    node.alive = false;
    node.ctx.timers = [];
  }

  /** The DPU boots again, with nothing of its former state. */
  restart(id: string): void {
    const node = this.newDpu(id);
    node.datapath.firewall.setRules(node.ctx, [SSH], 1);
    this.dpus.set(id, node);
    node.agent.boot(node.ctx);
  }

  run(until: number): void {
    this.lab.run(until);
  }

  payloads(kind: string): Array<Readonly<Record<string, unknown>>> {
    return this.lab.payloads(kind);
  }

  private newDpu(dpu: string): DpuNode {
    const datapath = new FakeDatapath(dpu);
    const node: DpuNode = {
      // A dead DPU's timers are cleared by `kill`; the guard covers none set after.
      ctx: this.lab.context(dpu, (name) => node.alive && node.agent.onTimer(node.ctx, name), { random: 0.5, onSend: (port, bytes) => port === 'pcie' && this.put('esx-01', dpu, bytes) }),
      agent: new DpuHaAgent({ topology: lab, dpu, hooks: datapath }),
      datapath,
      alive: true,
    };
    return node;
  }

  private put(to: string, port: string, bytes: Uint8Array): boolean {
    const copy = new Uint8Array(bytes);
    this.lab.after(1_000, () => this.deliver(to, port, copy));
    return true;
  }

  private deliver(to: string, port: string, bytes: Uint8Array): void {
    if (to !== 'esx-01') {
      const node = this.dpu(to);
      if (node.alive) node.agent.onMgmtFrame(node.ctx, bytes);
      return;
    }
    const verdict = hostRelay(this.table, port, bytes);
    if (verdict.action === 'forward') {
      this.put(verdict.port, 'pcie', bytes);
      return;
    }
    const beat = parseHaHeartbeat(bytes);
    if (beat === null) return;
    const link = this.beats.get(port)!;
    if (beat.type === 'reply' && beat.seq === link.seq) {
      link.answered = beat.seq;
      link.misses = 0;
      if (link.state === 'UNAVAILABLE') {
        link.state = 'MANAGED';
        this.decide(this.manager.onDpuState(this.hostCtx, port, 'MANAGED'));
      }
    }
    this.decide(this.manager.onHeartbeat(this.hostCtx, port, beat));
  }

  private heartbeatTick(): void {
    for (const [dpu, link] of this.beats) {
      if (link.seq > link.answered && ++link.misses === 3) {
        link.state = 'UNAVAILABLE';
        this.decide(this.manager.onDpuState(this.hostCtx, dpu, 'UNAVAILABLE'));
      }
      link.seq++;
      const mac = host.ports.find((p) => p.name === dpu)!.mac;
      const dpuMac = lab.nodes.find((n) => n.id === dpu)!.ports.find((p) => p.name === 'pcie')!.mac;
      this.put(dpu, 'pcie', buildHaHeartbeat({ mac, ip: HOST_MGMT_IP }, { mac: dpuMac, ip: DPU_MGMT_IP }, { type: 'request', seq: link.seq, role: this.manager.roleOf(dpu), uplinksDown: false, synced: false, epoch: null }));
    }
    this.hostCtx.setTimer(100 * MS, 'hb.tick');
  }

  private decide(decision: FailoverDecision): void {
    if (decision.kind === 'none') return;
    this.decisions.push(decision);
    if (decision.kind !== 'failover' && decision.kind !== 'rebuild') return;
    for (const vnic of decision.plan.vnics) this.manager.onRestored(this.hostCtx, vnic, 'emulated');
    // The fake datapath does no takeover work: its report is taken as given, at once.
    this.manager.onTakeover(this.hostCtx, decision.plan.to, { connections: 0, vnics: 0, macs: 0, replicaCommitNs: 0, vfBindNs: 0, switchNs: 0, tunnelNs: 0, totalNs: 0 });
  }
}

/** The SSH connection WEB → DB:22, opened through a firewall. */
function openSsh(fw: DistributedFirewall, ctx: TestContext): void {
  expect(fw.filter(ctx, WEB.vnic, 'out', tcp(WEB, DB, [40000, 22], { syn: true }, 1000)).action).toBe('allow');
  expect(fw.filter(ctx, WEB.vnic, 'in', tcp(DB, WEB, [22, 40000], { syn: true, ack: true }, 5000, 1001)).action).toBe('allow');
  expect(fw.filter(ctx, WEB.vnic, 'out', tcp(WEB, DB, [40000, 22], { ack: true }, 1001, 5001)).action).toBe('allow');
}

describe('DpuHaAgent', () => {
  it('DpuHaAgent keeps the standby in sync through the host, takes over with the replica on a crash, and rejoins as standby after a restart', () => {
    const c = new Cluster();
    c.boot();
    c.run(50 * MS);
    const a = c.dpu('dpu-01a');
    expect([a.agent.role, c.dpu('dpu-01b').agent.role]).toEqual(['active', 'standby']);
    expect(a.datapath.promotions).toEqual(['boot']);
    openSsh(a.datapath.firewall, a.ctx);
    c.run(500 * MS);
    // The connection reached the standby's replica through the host's relay, and the standby says it is in sync.
    expect(c.dpu('dpu-01b').agent.replicaNow.counts()).toEqual({ vnics: 1, connections: 1, macs: 0 });
    expect(c.manager.inspect().dpus.find((d) => d.dpu === 'dpu-01b')).toMatchObject({ synced: true });

    c.kill('dpu-01a');
    c.run(1_000 * MS);
    // Last answer at 400 ms (+2 µs there and back), UNAVAILABLE at the third miss, at 800 ms.
    expect(c.payloads('dpu.failed')).toEqual([{ dpu: 'dpu-01a', reason: 'crash', detectNs: 400 * MS - 2_000, to: 'dpu-01b' }]);
    const b = c.dpu('dpu-01b');
    expect(b.agent.role).toBe('active');
    expect(b.datapath.promotions).toEqual(['takeover']);
    expect(c.payloads('ha.sync.commit')).toEqual([{ vnics: [WEB.vnic], connections: 1, generation: null, macs: 0 }]);
    // The SSH session goes on through dpu-01b, judged by its entry, even with the rule gone.
    b.datapath.firewall.removeRule(b.ctx, 'ssh');
    expect(b.datapath.firewall.filter(b.ctx, WEB.vnic, 'out', tcp(WEB, DB, [40000, 22], { ack: true, psh: true }, 1001, 5001, new Uint8Array(8)))).toMatchObject({ action: 'allow', established: true });
    expect(c.payloads('dpu.failover.done')).toHaveLength(1);

    c.restart('dpu-01a');
    c.run(2_000 * MS);
    const again = c.dpu('dpu-01a');
    expect(again.agent.role).toBe('standby');
    expect(again.datapath.promotions).toEqual([]);
    expect(again.agent.replicaNow.counts()).toEqual({ vnics: 1, connections: 1, macs: 0 });
    expect(c.manager.roleOf('dpu-01a')).toBe('standby');
    expect(c.payloads('dpu.role').at(-1)).toEqual({ dpu: 'dpu-01a', role: 'standby', reason: 'rejoined' });
    expect(c.payloads('ha.role').filter((p) => p.dpu === 'dpu-01a').map((p) => `${String(p.from)}>${String(p.to)}`)).toEqual(['null>active', 'null>pending', 'pending>standby']);
    // No failback by default: dpu-01b stays active.
    expect(c.decisions.map((d) => d.kind)).toEqual(['failover']);
  });

  it('DpuHaAgent brings a standby that restarted up to date with a rule added while it was down, so removing that rule later works on both', () => {
    const DNS = rule({ id: 'dns', action: 'drop', service: { protocol: 'udp', destinationPorts: [{ from: 53, to: 53 }] } });
    const c = new Cluster();
    c.boot();
    c.run(50 * MS);
    c.kill('dpu-01b');
    const a = c.dpu('dpu-01a');
    a.datapath.firewall.addRule(a.ctx, DNS);
    c.run(200 * MS);
    // It boots with the rules it had from the start only (generation 1, no dns)...
    c.restart('dpu-01b');
    expect(c.dpu('dpu-01b').datapath.firewall.ruleSet().map((r) => r.id)).toEqual(['ssh', 'default']);
    c.run(600 * MS);
    // ...and the active's snapshot brings it the rest once it rejoined as standby.
    const b = c.dpu('dpu-01b');
    expect(b.agent.role).toBe('standby');
    expect(b.datapath.firewall.ruleSet().map((r) => r.id)).toEqual(['dns', 'ssh', 'default']);
    expect(b.datapath.firewall.generation).toBe(a.datapath.firewall.generation);
    // The next push (a removal, to every DPU) finds the rule on both and keeps them in step.
    for (const node of [a, b]) node.datapath.firewall.removeRule(node.ctx, 'dns');
    c.run(700 * MS);
    expect(c.payloads('dfw.rule.absent')).toEqual([]);
    expect(b.datapath.firewall.ruleSet().map((r) => r.id)).toEqual(['ssh', 'default']);
    expect(b.datapath.firewall.generation).toBe(a.datapath.firewall.generation);
  });

  it('DpuHaAgent reports its uplinks all down at once, and the host fails over to a standby that commits its replica', () => {
    const c = new Cluster();
    c.boot();
    c.run(50 * MS);
    const a = c.dpu('dpu-01a');
    openSsh(a.datapath.firewall, a.ctx);
    c.run(430 * MS);
    a.agent.onUplinks(a.ctx, true);
    c.run(431 * MS);
    // The status frame crossed right away: no waiting for the next heartbeat.
    expect(c.payloads('dpu.failed')).toEqual([{ dpu: 'dpu-01a', reason: 'linkDown', detectNs: 30 * MS - 2_000 + 1_000, to: 'dpu-01b' }]);
    c.run(600 * MS);
    const b = c.dpu('dpu-01b');
    expect([a.agent.role, b.agent.role]).toEqual(['standby', 'active']);
    expect(a.datapath.serving).toBe(false);
    expect(b.datapath.firewall.connections(WEB.vnic)).toHaveLength(1);
    // dpu-01a, still alive, became the standby and took a snapshot from dpu-01b.
    c.run(800 * MS);
    expect(a.agent.replicaNow.counts()).toEqual({ vnics: 1, connections: 1, macs: 0 });
    expect(a.agent.synced()).toBe(true);
  });
});
