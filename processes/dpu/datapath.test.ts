import { describe, expect, it } from 'vitest';
import type { NodeAction } from '../../shared/actions/node-actions.js';
import { dfwRuleSchema } from '../../shared/actions/dfw-rule.js';
import { buildGeneveFrame } from '../../shared/net/builders.js';
import { decodeFrame } from '../../shared/net/frame.js';
import { loadTopology } from '../../shared/topology/load.js';
import { TOPOLOGY_DEFAULTS } from '../../shared/topology/schema.js';
import type { DpuNode, ResolvedTopology } from '../../shared/topology/types.js';
import { Rig } from '../../shared/vmxnet3/testing.js';
import { allVnics } from '../vds/endpoints.js';
import { decodeDma, encodeDma, encodeMailbox } from '../pcie/messages.js';
import type { MailboxMessage, VnicPlacement } from '../pcie/messages.js';
import { buildVmotionFrame, VMOTION_VNI, vmotionAddress } from '../vds/vmotion-net.js';
import type { Channel } from '../runtime/types.js';
import { DpuDatapath } from './datapath.js';
import { DpuCore } from './dpu-core.js';
import { rule, tcp, udp } from '../vds/dfw/testing.js';
import { DFW_EXPORT_VERSION } from '../vds/dfw/export.js';
import type { DfwExport } from '../vds/dfw/export.js';
import { captureState, ChangeTracker } from './ha/change-tracker.js';
import { SyncReplica } from './ha/replica.js';
import { TestContext } from '../runtime/testing.js';
import type { TestEvent } from '../runtime/testing.js';
import { dpuTepIp, tepMac } from '../vds/switching/tep.js';
import { decodeMailbox } from '../pcie/messages.js';
import { DEFAULT_VF_COUNT } from './vf/vf-pool.js';

/** Two hosts, each with an active and a standby DPU (the first by id is active), on one switch. */
const LAB = `name: vmotion-lab
segments:
  - { id: web, kind: overlay, vni: 5001, ipv4Subnet: 10.0.1.0/24, gateway4: 10.0.1.1 }
hosts:
  - id: esx-a
    vms:
      - { id: web-a, vnics: [{ id: web-a.eth0, segment: web, ipv4: 10.0.1.11/24 }] }
  - id: esx-b
    vms:
      - { id: web-b, vnics: [{ id: web-b.eth0, segment: web, ipv4: 10.0.1.21/24 }] }
dpus:
  - { id: dpu-a1, host: esx-a }
  - { id: dpu-a2, host: esx-a }
  - { id: dpu-b1, host: esx-b }
  - { id: dpu-b2, host: esx-b }
switches:
  - { id: tor, ports: 8 }
wires:
  - { a: dpu-a1:p0, b: tor:swp1 }
  - { a: dpu-a2:p0, b: tor:swp2 }
  - { a: dpu-b1:p0, b: tor:swp3 }
  - { a: dpu-b2:p0, b: tor:swp4 }
`;

const S = 1_000_000_000;
const WEB_A = 'web-a.eth0';
/** A peer of web-a's outside the lab's VMs, on its segment. */
const PEER = { mac: '02:00:00:00:09:09', ip: '10.0.1.99' };
const WEB_TCP = rule({ id: 'web-tcp', action: 'allow', service: { protocol: 'tcp', destinationPorts: [{ from: 80, to: 80 }] } });

function lab(yaml = LAB): ResolvedTopology {
  return loadTopology(yaml, 'vmotion-lab.yaml');
}

function dpuNode(topology: ResolvedTopology, id: string): DpuNode {
  const node = topology.nodes.find((n) => n.id === id);
  if (node?.kind !== 'dpu') throw new Error(`No DPU ${id}`);
  return node;
}

function placementOf(topology: ResolvedTopology, vnic: string, mode?: VnicPlacement['mode']): VnicPlacement {
  const v = allVnics(topology).find((x) => x.id === vnic)!;
  return { id: v.id, vm: v.vm, mac: v.mac, segment: v.segment, ipv4: v.ipv4, ipv6: v.ipv6, mode: mode ?? v.mode };
}

/** What web-a's guest looks like on the wire. */
function webA(topology: ResolvedTopology): { mac: string; ip: string } {
  return { mac: placementOf(topology, WEB_A).mac, ip: '10.0.1.11' };
}

/** A frame the host's emulated backend hands over for a vNIC. */
function txFrame(vnic: string, frame: Uint8Array): Uint8Array {
  return encodeDma({ op: 'tx', vnic, mode: 'emulated', queue: 0, index: 0, gen: 1, frame });
}

/** GENEVE from one DPU's tunnel endpoint to another's. */
function geneve(topology: ResolvedTopology, from: string, to: string, vni: number, inner: Uint8Array): Uint8Array {
  return buildGeneveFrame({ srcMac: tepMac(from), dstMac: tepMac(to), srcIp: dpuTepIp(topology, from), dstIp: dpuTepIp(topology, to), vni, inner, srcPort: 'flow' });
}

/**
 * Every DPU core of a topology booted at time 0 on one clock (so each takes its policy role), and a
 * fabric that floods whatever a DPU sends on p0 to every other DPU's p0 (each switch drops what is
 * not for it). What a DPU sends its host is recorded, not delivered.
 */
class Rack {
  readonly clock = { now: 0 };
  readonly events: TestEvent[] = [];
  private readonly cores = new Map<string, { core: DpuCore; ctx: TestContext; carried: number }>();

  constructor(readonly topology: ResolvedTopology) {
    for (const node of topology.nodes) {
      if (node.kind !== 'dpu') continue;
      const ctx = new TestContext(node.id, { clock: this.clock, events: this.events });
      const core = new DpuCore(node, topology);
      core.onBoot(ctx);
      this.cores.set(node.id, { core, ctx, carried: 0 });
    }
    this.pump();
  }

  private dpu(id: string): { core: DpuCore; ctx: TestContext; carried: number } {
    const entry = this.cores.get(id);
    if (entry === undefined) throw new Error(`No DPU ${id}`);
    return entry;
  }

  /** The host sends a device-channel or management message to one of its DPUs. */
  fromHost(dpu: string, channel: Channel, bytes: Uint8Array): void {
    const { core, ctx } = this.dpu(dpu);
    core.onFrame(ctx, 'pcie', bytes, channel);
  }

  /** A frame arrives on a DPU's p0 from the fabric. */
  fromFabric(dpu: string, frame: Uint8Array): void {
    const { core, ctx } = this.dpu(dpu);
    core.onFrame(ctx, 'p0', frame, 'eth');
  }

  /** Carries frames sent on p0 to every other DPU until none is left; returns them in order. */
  pump(): Array<{ from: string; frame: Uint8Array }> {
    const carried: Array<{ from: string; frame: Uint8Array }> = [];
    for (let moved = true; moved; ) {
      moved = false;
      for (const [id, entry] of [...this.cores].sort(([a], [b]) => (a < b ? -1 : 1))) {
        const out = entry.ctx.sent.filter((s) => s.port === 'p0');
        for (const s of out.slice(entry.carried)) {
          moved = true;
          carried.push({ from: id, frame: s.bytes });
          for (const other of [...this.cores.keys()].sort()) if (other !== id) this.fromFabric(other, s.bytes);
        }
        entry.carried = out.length;
      }
    }
    return carried;
  }

  /** What a DPU sent its host on one channel, in order. */
  toHost(dpu: string, channel: Channel): Uint8Array[] {
    return this.dpu(dpu)
      .ctx.sent.filter((s) => s.port === 'pcie' && s.channel === channel)
      .map((s) => s.bytes);
  }

  /** The mailbox messages a DPU sent its host. */
  mailbox(dpu: string): MailboxMessage[] {
    return this.toHost(dpu, 'mailbox').map((b) => decodeMailbox(b) as MailboxMessage);
  }

  /** A DPU's datapath as its inspector shows it. */
  inspect(dpu: string): DatapathView {
    return (this.dpu(dpu).core.inspect() as { datapath: DatapathView }).datapath;
  }

  /** Events one DPU recorded, of one kind. */
  eventsOf(dpu: string, kind: string): Array<Readonly<Record<string, unknown>>> {
    return this.events.filter((e) => e.node === dpu && e.kind === kind).map((e) => e.payload);
  }

  action(dpu: string, action: NodeAction): void {
    const { core, ctx } = this.dpu(dpu);
    core.onAction(ctx, action);
  }
}

interface DatapathView {
  serving: boolean;
  hostVnics: string[];
  vmotion: { fromHost: number; toHost: number; drops: Record<string, number> };
  switch: { vnics: Array<{ vnic: string }> };
  firewall: { vnics: Array<{ identity: { vnic: string } }>; ruleCounters: Array<{ rule: string; hits: number; packets: number }>; connections: Array<{ vnic: string; state: string }> };
  vnicPorts: { vnics: Array<{ vnic: string }>; pool: { size: number }; counters: { drops: Record<string, number> } };
}

function served(view: DatapathView): { switch: string[]; firewall: string[]; ports: string[] } {
  return { switch: view.switch.vnics.map((v) => v.vnic), firewall: view.firewall.vnics.map((v) => v.identity.vnic), ports: view.vnicPorts.vnics.map((v) => v.vnic) };
}

/** web-a opens a TCP connection to PEER through dpu-a1: SYN out, SYN-ACK in (tunnelled from dpu-b1's TEP), ACK out. */
function establish(rack: Rack): void {
  const topology = rack.topology;
  const me = webA(topology);
  rack.fromHost('dpu-a1', 'dma', txFrame(WEB_A, tcp(me, PEER, [40000, 80], { syn: true }, 100)));
  rack.fromFabric('dpu-a1', geneve(topology, 'dpu-b1', 'dpu-a1', 5001, tcp(PEER, me, [80, 40000], { syn: true, ack: true }, 500, 101)));
  rack.fromHost('dpu-a1', 'dma', txFrame(WEB_A, tcp(me, PEER, [40000, 80], { ack: true }, 101, 501)));
}

/** dpu-a1 releases web-a with its firewall state; returns the export it answered with. */
function releaseWithExport(rack: Rack): DfwExport {
  rack.fromHost('dpu-a1', 'mailbox', encodeMailbox({ op: 'vnic.release', vnic: WEB_A, export: true }));
  const reply = rack.mailbox('dpu-a1').at(-1);
  if (reply?.op !== 'vnic.released' || reply.export === null) throw new Error(`Expected vnic.released with an export, got ${JSON.stringify(reply)}`);
  return reply.export;
}

describe('DpuDatapath settings', () => {
  it('a DPU left at the topology defaults has the VF pool and export version the modules default to', () => {
    expect(TOPOLOGY_DEFAULTS.dpuVfs).toBe(DEFAULT_VF_COUNT);
    expect(TOPOLOGY_DEFAULTS.dpuDfwExportVersion).toBe(DFW_EXPORT_VERSION);
    const rack = new Rack(lab(LAB.replace('{ id: dpu-b1, host: esx-b }', '{ id: dpu-b1, host: esx-b, vfs: 3 }')));
    expect(rack.inspect('dpu-a1').vnicPorts.pool.size).toBe(DEFAULT_VF_COUNT);
    expect(rack.inspect('dpu-b1').vnicPorts.pool.size).toBe(3);
  });
});

describe('DpuDatapath vNIC release and adoption (vMotion)', () => {
  it('release with export records the rule and the connection with its remaining timeout, answers with them and lets the vNIC go', () => {
    const rack = new Rack(lab());
    rack.action('dpu-a1', { action: 'dfw.rule.add', args: { rule: dfwRuleSchema.parse(WEB_TCP) } });
    establish(rack);
    rack.clock.now = 10 * S;
    const exported = releaseWithExport(rack);

    expect(exported).toMatchObject({ version: 1, vnic: WEB_A, identity: { vnic: WEB_A, vm: 'web-a', ipv4: '10.0.1.11' } });
    expect(exported.rules.map((r) => r.id)).toEqual(['web-tcp']);
    expect(exported.connections).toHaveLength(1);
    const [conn] = exported.connections;
    // NSX's established timeout (43200 s) counted from the last packet at 0, exported at 10 s.
    expect(conn).toMatchObject({ state: 'established', ruleId: 'web-tcp', remainingNs: 43_190 * S, ageNs: 10 * S });
    expect(conn!.tuple).toEqual({ protocol: 'tcp', src: '10.0.1.11', srcPort: 40000, dst: '10.0.1.99', dstPort: 80 });
    expect(rack.eventsOf('dpu-a1', 'dfw.export')).toEqual([
      {
        node: 'dpu-a1',
        vnic: WEB_A,
        vm: 'web-a',
        version: 1,
        rules: [WEB_TCP],
        connections: [{ tuple: conn!.tuple, state: 'established', ruleId: 'web-tcp', remainingNs: 43_190 * S, ageNs: 10 * S }],
      },
    ]);

    // Gone from the VF endpoint, the switch, the firewall and the host's vNICs: its frames are dropped.
    const view = rack.inspect('dpu-a1');
    expect(served(view)).toEqual({ switch: [], firewall: [], ports: [] });
    expect(view.hostVnics).toEqual([]);
    rack.fromHost('dpu-a1', 'dma', txFrame(WEB_A, tcp(webA(rack.topology), PEER, [40000, 80], { ack: true }, 101, 501)));
    expect(rack.inspect('dpu-a1').vnicPorts.counters.drops['unknown-vnic']).toBe(1);
    // Releasing it again is refused: this DPU no longer serves it.
    rack.fromHost('dpu-a1', 'mailbox', encodeMailbox({ op: 'vnic.release', vnic: WEB_A, export: false }));
    expect(rack.mailbox('dpu-a1').at(-1)).toMatchObject({ op: 'vnic.refused', vnic: WEB_A, reason: 'unknown-vnic' });
  });

  it('release without export answers with no export and records none', () => {
    const rack = new Rack(lab());
    rack.fromHost('dpu-a1', 'mailbox', encodeMailbox({ op: 'vnic.release', vnic: WEB_A, export: false }));
    expect(rack.mailbox('dpu-a1')).toEqual([{ op: 'vnic.released', vnic: WEB_A, export: null }]);
    expect(rack.eventsOf('dpu-a1', 'dfw.export')).toEqual([]);
  });

  it('adopt with a good export carries an established connection on without a rule evaluation', () => {
    const rack = new Rack(lab());
    for (const dpu of ['dpu-a1', 'dpu-b1']) rack.action(dpu, { action: 'dfw.rule.add', args: { rule: dfwRuleSchema.parse(WEB_TCP) } });
    establish(rack);
    rack.clock.now = 10 * S;
    const exported = releaseWithExport(rack);
    rack.clock.now = 11 * S;
    rack.fromHost('dpu-b1', 'mailbox', encodeMailbox({ op: 'vnic.adopt', vnic: WEB_A, placement: placementOf(rack.topology, WEB_A), export: exported }));

    expect(rack.mailbox('dpu-b1')).toEqual([{ op: 'vnic.adopted', vnic: WEB_A, imported: 1 }]);
    expect(rack.eventsOf('dpu-b1', 'dfw.import')).toEqual([
      {
        node: 'dpu-b1',
        vnic: WEB_A,
        vm: 'web-a',
        ok: true,
        version: 1,
        rules: ['web-tcp'],
        connections: [{ tuple: { protocol: 'tcp', src: '10.0.1.11', srcPort: 40000, dst: '10.0.1.99', dstPort: 80 }, state: 'established', remainingNs: 43_190 * S }],
      },
    ]);
    const adopted = rack.inspect('dpu-b1');
    expect(served(adopted)).toEqual({ switch: [WEB_A, 'web-b.eth0'], firewall: [WEB_A, 'web-b.eth0'], ports: [WEB_A, 'web-b.eth0'] });
    expect(adopted.hostVnics).toEqual([WEB_A, 'web-b.eth0']);
    const hitsBefore = adopted.firewall.ruleCounters.find((r) => r.rule === 'web-tcp')!;

    // The peer answers on the connection: the MAC is local on dpu-b1 now, so the tunnelled segment
    // goes to the vNIC (not flooded), judged by the imported entry.
    const me = webA(rack.topology);
    rack.fromFabric('dpu-b1', geneve(rack.topology, 'dpu-a1', 'dpu-b1', 5001, tcp(PEER, me, [80, 40000], { ack: true }, 501, 101, new Uint8Array(10))));
    const rx = rack.toHost('dpu-b1', 'dma').map(decodeDma);
    expect(rx.filter((m) => m.op === 'rx').map((m) => m.vnic)).toEqual([WEB_A]);
    // And the guest goes on from its new host, also without a rule evaluation.
    rack.fromHost('dpu-b1', 'dma', txFrame(WEB_A, tcp(me, PEER, [40000, 80], { ack: true, psh: true }, 101, 511, new Uint8Array(10))));
    const after = rack.inspect('dpu-b1').firewall.ruleCounters.find((r) => r.rule === 'web-tcp')!;
    expect(after.hits).toBe(hitsBefore.hits);
    expect(after.packets).toBe(hitsBefore.packets + 2);
    expect(rack.eventsOf('dpu-b1', 'dfw.rule.hit')).toEqual([]);
    expect(rack.inspect('dpu-b1').firewall.connections.filter((c) => c.vnic === WEB_A).map((c) => c.state)).toEqual(['established']);
  });

  it('adopt with an export version this DPU does not read is refused and attaches nothing (fail closed)', () => {
    const topology = lab(LAB.replace('{ id: dpu-b1, host: esx-b }', '{ id: dpu-b1, host: esx-b, dfwExportVersion: 2 }'));
    const rack = new Rack(topology);
    establish(rack);
    const exported = releaseWithExport(rack);
    rack.fromHost('dpu-b1', 'mailbox', encodeMailbox({ op: 'vnic.adopt', vnic: WEB_A, placement: placementOf(topology, WEB_A), export: exported }));

    const [reply] = rack.mailbox('dpu-b1');
    expect(reply).toMatchObject({ op: 'vnic.refused', vnic: WEB_A, reason: 'dfw-version' });
    expect(reply?.op === 'vnic.refused' && reply.message).toBe('Firewall export version 1 is not supported; this firewall reads version 2');
    expect(rack.eventsOf('dpu-b1', 'dfw.import')).toEqual([{ node: 'dpu-b1', vnic: WEB_A, vm: 'web-a', ok: false, version: 1, reason: 'dfw-version' }]);
    const view = rack.inspect('dpu-b1');
    expect(served(view)).toEqual({ switch: ['web-b.eth0'], firewall: ['web-b.eth0'], ports: ['web-b.eth0'] });
    expect(view.hostVnics).toEqual(['web-b.eth0']);
    // A frame for the vNIC finds nothing to serve it.
    rack.fromHost('dpu-b1', 'dma', txFrame(WEB_A, tcp(webA(topology), PEER, [40000, 80], { ack: true }, 101, 501)));
    expect(rack.inspect('dpu-b1').vnicPorts.counters.drops['unknown-vnic']).toBe(1);
    expect(rack.eventsOf('dpu-b1', 'pcie.drop')).toMatchObject([{ side: 'dpu', vnic: WEB_A, channel: 'dma', reason: 'unknown-vnic' }]);

    // What dpu-b1 writes, it reads: its own version 2 is taken.
    rack.fromHost('dpu-b1', 'mailbox', encodeMailbox({ op: 'vnic.adopt', vnic: WEB_A, placement: placementOf(topology, WEB_A), export: { ...exported, version: 2 } }));
    expect(rack.mailbox('dpu-b1').at(-1)).toEqual({ op: 'vnic.adopted', vnic: WEB_A, imported: 1 });
  });

  it('adopt refuses a damaged export and a placement on an unknown segment, adopts a vNIC already served again; a malformed message gets no answer', () => {
    const topology = lab();
    const rack = new Rack(topology);
    const placement = placementOf(topology, WEB_A);
    const adopt = (fields: Partial<Extract<MailboxMessage, { op: 'vnic.adopt' }>>): void =>
      rack.fromHost('dpu-b1', 'mailbox', encodeMailbox({ op: 'vnic.adopt', vnic: WEB_A, placement, export: null, ...fields }));
    adopt({ export: { version: 1, vnic: WEB_A } as unknown as DfwExport });
    adopt({ placement: { ...placement, segment: 'db' } });
    adopt({ vnic: 'web-b.eth0', placement: placementOf(topology, 'web-b.eth0') });
    rack.fromHost('dpu-b1', 'mailbox', encodeMailbox({ op: 'vnic.adopt', vnic: WEB_A, placement: { ...placement, mac: 'not-a-mac' }, export: null }));
    expect(rack.mailbox('dpu-b1').map((m) => (m.op === 'vnic.refused' ? m.reason : m.op))).toEqual(['dfw-malformed', 'bad-placement', 'vnic.adopted']);
    expect(rack.eventsOf('dpu-b1', 'pcie.drop')).toMatchObject([{ side: 'dpu', channel: 'mailbox', reason: 'malformed' }]);
    expect(rack.inspect('dpu-b1').hostVnics).toEqual(['web-b.eth0']);
  });

  it('a destination DPU without VFs adopts an UPTv2 vNIC and refuses its VF (no-free-vf)', () => {
    const topology = lab(LAB.replace('{ id: dpu-b1, host: esx-b }', '{ id: dpu-b1, host: esx-b, vfs: 0 }'));
    const rack = new Rack(topology);
    const placement = placementOf(topology, WEB_A, 'uptv2');
    rack.fromHost('dpu-b1', 'mailbox', encodeMailbox({ op: 'vnic.adopt', vnic: WEB_A, placement, export: null }));
    const rig = new Rig({ mac: placement.mac, ringSizes: { tx: 32, rx1: 32, rx2: 32 } });
    rack.fromHost('dpu-b1', 'mailbox', encodeMailbox({ op: 'vf.bind', vnic: WEB_A, mac: placement.mac, mtu: 1500, device: { shared: rig.driver.shared() } }));
    expect(rack.mailbox('dpu-b1')).toEqual([
      { op: 'vnic.adopted', vnic: WEB_A, imported: 0 },
      { op: 'vf.refused', vnic: WEB_A, reason: 'no-free-vf' },
    ]);
  });
});

describe('DpuDatapath vNIC moves on a standby DPU', () => {
  it('a standby forgets a released vNIC (list and replica): a takeover neither serves nor commits it', () => {
    const topology = lab();
    const clock = { now: 0 };
    const activeCtx = new TestContext('dpu-a1', { clock: clock });
    const standbyCtx = new TestContext('dpu-a2', { clock: clock });
    const active = new DpuDatapath(dpuNode(topology, 'dpu-a1'), topology);
    let replica = new SyncReplica();
    const standby = new DpuDatapath(dpuNode(topology, 'dpu-a2'), topology, { replica: () => replica });
    active.boot(activeCtx);
    standby.boot(standbyCtx);
    active.promote(activeCtx, new SyncReplica(), 'boot');
    active.fromHost(activeCtx, 'dma', txFrame(WEB_A, udp(webA(topology), PEER, [5000, 53])));
    // The standby holds web-a's filter and its connection, as the state sync would have brought them.
    const tracker = new ChangeTracker();
    replica.apply(tracker.snapshot(active.capture(0), 0), 0);
    expect(replica.vnics()).toEqual([WEB_A]);

    standby.fromHost(standbyCtx, 'mailbox', encodeMailbox({ op: 'vnic.release', vnic: WEB_A, export: true }));
    expect(standbyCtx.sent.filter((s) => s.channel === 'mailbox')).toEqual([]);
    expect(replica.vnics()).toEqual([]);
    // A record about it still in flight brings it back into the replica, but not into service.
    clock.now = S;
    active.fromHost(activeCtx, 'dma', txFrame(WEB_A, udp(webA(topology), PEER, [5001, 53])));
    replica.apply(tracker.changes(captureState(active.firewall, null, [WEB_A], clock.now), clock.now), clock.now);
    expect(replica.vnics()).toEqual([WEB_A]);
    const held = replica;
    replica = new SyncReplica();
    standby.promote(standbyCtx, held, 'takeover');
    const view = standby.inspect() as DatapathView;
    expect(served(view)).toEqual({ switch: [], firewall: [], ports: [] });
    expect(view.hostVnics).toEqual([]);
    expect(standbyCtx.events.filter((e) => e.kind === 'ha.sync.commit').map((e) => e.payload.vnics)).toEqual([[]]);
  });

  it('a standby adds an adopted vNIC to its list without answering, and serves it after a takeover', () => {
    const topology = lab();
    const ctx = new TestContext('dpu-b2');
    const standby = new DpuDatapath(dpuNode(topology, 'dpu-b2'), topology, { replica: () => new SyncReplica() });
    standby.boot(ctx);
    standby.fromHost(ctx, 'mailbox', encodeMailbox({ op: 'vnic.adopt', vnic: WEB_A, placement: placementOf(topology, WEB_A), export: null }));
    expect(ctx.sent.filter((s) => s.channel === 'mailbox')).toEqual([]);
    expect(served(standby.inspect() as DatapathView)).toEqual({ switch: [], firewall: [], ports: [] });
    expect((standby.inspect() as DatapathView).hostVnics).toEqual([WEB_A, 'web-b.eth0']);

    standby.promote(ctx, new SyncReplica(), 'takeover');
    expect(served(standby.inspect() as DatapathView)).toEqual({ switch: [WEB_A, 'web-b.eth0'], firewall: [WEB_A, 'web-b.eth0'], ports: [WEB_A, 'web-b.eth0'] });
    // It is announced from the new DPU like the host's own VMs.
    expect(standby.switch.controlPlane.vnic(WEB_A)).toMatchObject({ host: 'esx-b', tep: dpuTepIp(topology, 'dpu-b2') });
  });
});

describe('DpuDatapath vNIC moves noted by a DPU that does not serve them', () => {
  it('an active DPU told only to note an adopted vNIC lists it without attaching, importing or answering, and forgets it on a noted release', () => {
    const topology = lab();
    const rack = new Rack(topology);
    rack.fromHost('dpu-b1', 'mailbox', encodeMailbox({ op: 'vnic.adopt', vnic: WEB_A, placement: placementOf(topology, WEB_A), export: null, note: true }));
    expect(rack.mailbox('dpu-b1')).toEqual([]);
    expect(rack.eventsOf('dpu-b1', 'dfw.import')).toEqual([]);
    const view = rack.inspect('dpu-b1');
    expect(view.serving).toBe(true);
    expect(view.hostVnics).toEqual([WEB_A, 'web-b.eth0']);
    expect(served(view)).toEqual({ switch: ['web-b.eth0'], firewall: ['web-b.eth0'], ports: ['web-b.eth0'] });
    rack.fromHost('dpu-b1', 'mailbox', encodeMailbox({ op: 'vnic.release', vnic: WEB_A, export: false, note: true }));
    expect(rack.mailbox('dpu-b1')).toEqual([]);
    expect(rack.inspect('dpu-b1').hostVnics).toEqual(['web-b.eth0']);
  });
});

describe('DpuDatapath vMotion relay', () => {
  it('tunnels a datagram from the host to the destination host’s DPU after underlay ARP, which hands it to its host', () => {
    const topology = lab();
    const rack = new Rack(topology);
    const datagram = buildVmotionFrame(topology, 'esx-a', 'esx-b', new Uint8Array([1, 2, 3, 4]));
    rack.fromHost('dpu-a1', 'mgmt', datagram);
    const carried = rack.pump();

    const fromA1 = carried.filter((c) => c.from === 'dpu-a1').map((c) => decodeFrame(c.frame));
    // First the ARP request for dpu-b1's TEP, then (after its reply) the datagram in GENEVE.
    expect(fromA1[0]?.arp).toMatchObject({ senderIp: dpuTepIp(topology, 'dpu-a1'), targetIp: dpuTepIp(topology, 'dpu-b1') });
    const outer = fromA1[1]!;
    expect(outer.ethernet.dst).toBe(tepMac('dpu-b1'));
    expect(outer.ipv4).toMatchObject({ src: dpuTepIp(topology, 'dpu-a1'), dst: dpuTepIp(topology, 'dpu-b1') });
    expect(outer.geneve?.vni).toBe(VMOTION_VNI);
    expect(fromA1).toHaveLength(2);

    expect(rack.toHost('dpu-b1', 'mgmt').filter((f) => f.length === datagram.length && f.every((b, i) => b === datagram[i]))).toHaveLength(1);
    expect(rack.inspect('dpu-a1').vmotion).toEqual({ fromHost: 1, toHost: 0, drops: {} });
    expect(rack.inspect('dpu-b1').vmotion).toEqual({ fromHost: 0, toHost: 1, drops: {} });
    // The standby of the destination saw the broadcast ARP only; nothing reached its host.
    expect(rack.inspect('dpu-b2').vmotion).toEqual({ fromHost: 0, toHost: 0, drops: {} });

    // The TEP is resolved now: the next datagram leaves at once.
    rack.fromHost('dpu-a1', 'mgmt', buildVmotionFrame(topology, 'esx-a', 'esx-b', new Uint8Array([5])));
    const next = rack.pump().filter((c) => c.from === 'dpu-a1');
    expect(next.map((c) => decodeFrame(c.frame).geneve?.vni)).toEqual([VMOTION_VNI]);
  });

  it('a standby relays nothing, either way, and counts why', () => {
    const topology = lab();
    const rack = new Rack(topology);
    rack.fromHost('dpu-a2', 'mgmt', buildVmotionFrame(topology, 'esx-a', 'esx-b', new Uint8Array([1])));
    expect(rack.pump().filter((c) => c.from === 'dpu-a2')).toEqual([]);
    rack.fromFabric('dpu-b2', geneve(topology, 'dpu-a1', 'dpu-b2', VMOTION_VNI, buildVmotionFrame(topology, 'esx-a', 'esx-b', new Uint8Array([2]))));
    expect(rack.toHost('dpu-b2', 'mgmt').filter((f) => f.length > 60 && decodeFrame(f).udp?.dstPort === 8000)).toEqual([]);
    expect(rack.eventsOf('dpu-a2', 'frame.drop')).toEqual([{ port: 'pcie', reason: 'vmotion-standby', len: 60 }]);
    expect(rack.eventsOf('dpu-b2', 'frame.drop')).toEqual([{ port: 'p0', reason: 'vmotion-standby', len: 60 }]);
    expect(rack.inspect('dpu-a2').vmotion.drops).toEqual({ 'vmotion-standby': 1 });
  });

  it('an active DPU drops a tunnelled datagram for a host it does not serve, and one that is no vMotion datagram', () => {
    const topology = lab();
    const rack = new Rack(topology);
    rack.fromFabric('dpu-b1', geneve(topology, 'dpu-a1', 'dpu-b1', VMOTION_VNI, buildVmotionFrame(topology, 'esx-b', 'esx-a', new Uint8Array([1]))));
    rack.fromFabric('dpu-b1', geneve(topology, 'dpu-a1', 'dpu-b1', VMOTION_VNI, udp(webA(topology), PEER, [1, 2])));
    expect(rack.inspect('dpu-b1').vmotion.drops).toEqual({ 'vmotion-malformed': 1, 'vmotion-not-local': 1 });
    expect(rack.toHost('dpu-b1', 'mgmt').filter((f) => decodeFrame(f).udp?.dstPort === 8000)).toEqual([]);
  });

  it('learns from a tunnelled datagram that the sending host moved to its other DPU', () => {
    const topology = lab();
    const rack = new Rack(topology);
    expect(vmotionAddress(topology, 'esx-a').ip).toBe('172.30.0.10');
    rack.fromFabric('dpu-b1', geneve(topology, 'dpu-a2', 'dpu-b1', VMOTION_VNI, buildVmotionFrame(topology, 'esx-a', 'esx-b', new Uint8Array([1]))));
    expect(rack.eventsOf('dpu-b1', 'overlay.relearn')).toEqual([
      { mac: null, segment: null, host: 'esx-a', from: dpuTepIp(topology, 'dpu-a1'), to: dpuTepIp(topology, 'dpu-a2'), vnics: [WEB_A], why: 'host-traffic' },
    ]);
    // The answer goes to the DPU that serves esx-a now.
    rack.fromHost('dpu-b1', 'mgmt', buildVmotionFrame(topology, 'esx-b', 'esx-a', new Uint8Array([2])));
    const arp = rack.pump().filter((c) => c.from === 'dpu-b1').map((c) => decodeFrame(c.frame).arp?.targetIp);
    expect(arp[0]).toBe(dpuTepIp(topology, 'dpu-a2'));
  });
});

describe('DpuDatapath losses on the record', () => {
  it('a standby DPU that receives a VM frame through its tunnel endpoint discards it with a frame.drop (standby)', () => {
    const topology = lab();
    const rack = new Rack(topology);
    const webB = placementOf(topology, 'web-b.eth0');
    // A remote endpoint with a stale table tunnels web-b's traffic to esx-b's standby DPU.
    const inner = udp({ mac: webA(topology).mac, ip: '10.0.1.11' }, { mac: webB.mac, ip: '10.0.1.21' }, [5000, 53]);
    const frame = geneve(topology, 'dpu-a1', 'dpu-b2', 5001, inner);
    rack.fromFabric('dpu-b2', frame);
    expect(rack.inspect('dpu-b2').serving).toBe(false);
    expect(rack.eventsOf('dpu-b2', 'frame.drop')).toEqual([{ port: 'p0', reason: 'standby', len: frame.length, detail: `no-route: ${webB.mac}` }]);
    // The active DPU of esx-b delivers the same frame: nothing dropped there.
    rack.fromFabric('dpu-b1', geneve(topology, 'dpu-a1', 'dpu-b1', 5001, inner));
    expect(rack.eventsOf('dpu-b1', 'frame.drop')).toEqual([]);
  });
});

describe('DpuDatapath hardware flow offload', () => {
  interface Offload {
    hardwarePackets: number;
    hardwareCpuNs: number;
    slowPathPackets: number;
    slowPathCpuNs: number;
    installs: number;
    invalidations: number;
    installed: number;
  }
  const offloadOf = (rack: Rack): Offload => (rack.inspect('dpu-a1') as unknown as { offload: Offload }).offload;
  const armNs = (rack: Rack): number => (rack.inspect('dpu-a1') as unknown as { cost: { totalCpuNs: number } }).cost.totalCpuNs;

  function established(): { rack: Rack; send: (seq: number) => void } {
    const rack = new Rack(lab());
    rack.action('dpu-a1', { action: 'dfw.rule.add', args: { rule: dfwRuleSchema.parse(WEB_TCP) } });
    establish(rack);
    const me = webA(rack.topology);
    const send = (seq: number): void => rack.fromHost('dpu-a1', 'dma', txFrame(WEB_A, tcp(me, PEER, [40000, 80], { ack: true, psh: true }, seq, 501, new Uint8Array(100))));
    return { rack, send };
  }

  it('the first packets of a connection take the Arm slow path, later ones the eSwitch at no Arm cost', () => {
    const { rack, send } = established();
    // SYN (rule lookup); SYN-ACK in and ACK out, conntrack hits each: they install the inbound and the outbound flow.
    const afterHandshake = offloadOf(rack);
    expect([afterHandshake.slowPathPackets, afterHandshake.hardwarePackets, afterHandshake.installs]).toEqual([3, 0, 2]);
    const before = armNs(rack);
    for (let i = 0; i < 5; i++) send(101 + 100 * i);
    const after = offloadOf(rack);
    expect([after.slowPathPackets, after.hardwarePackets, after.hardwareCpuNs]).toEqual([3, 5, 0]);
    expect(armNs(rack)).toBe(before);
    expect(after.slowPathCpuNs).toBeGreaterThan(0);
  });

  it('a rule change sends every offloaded flow back to the slow path, which installs it again', () => {
    const { rack, send } = established();
    send(101);
    expect(offloadOf(rack).hardwarePackets).toBe(1);
    rack.action('dpu-a1', { action: 'dfw.rule.add', args: { rule: dfwRuleSchema.parse(rule({ id: 'other', action: 'allow', service: { protocol: 'udp', destinationPorts: [{ from: 53, to: 53 }] } })) } });
    expect(offloadOf(rack)).toMatchObject({ installed: 0, invalidations: 2 });
    const before = armNs(rack);
    send(201);
    expect(armNs(rack)).toBeGreaterThan(before);
    send(301);
    expect(offloadOf(rack)).toMatchObject({ hardwarePackets: 2, slowPathPackets: 4, installs: 3 });
  });

  it('a vNIC that leaves (vMotion) takes its offloaded flows with it', () => {
    const { rack, send } = established();
    send(101);
    expect(offloadOf(rack).installed).toBe(2);
    releaseWithExport(rack);
    expect(offloadOf(rack)).toMatchObject({ installed: 0, invalidations: 2 });
  });
});

