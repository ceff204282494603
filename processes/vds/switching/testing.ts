/**
 * Test support for the distributed switch: a test context that refuses sends, a fake underlay
 * that carries uplink frames between switches on one lab clock,
 * a three-host lab with an overlay, a routed and a VLAN segment, and builders of switches from a
 * topology.
 */
import type { VTime } from '../../../shared/events.js';
import { decodeEthernet } from '../../../shared/net/ethernet.js';
import { isMulticastMac } from '../../../shared/net/mac.js';
import { loadTopology } from '../../../shared/topology/load.js';
import type { HostNode, ResolvedTopology } from '../../../shared/topology/types.js';
import { TestContext, TestLab } from '../../runtime/testing.js';
import type { SwitchAction } from './actions.js';
import { OVERLAY_TIMER_PREFIX, OverlaySwitch } from './overlay-switch.js';
import type { LocalVnic, OverlaySwitchOptions } from './overlay-switch.js';
import { tepOf } from './tep.js';

/** The switch returns actions and never sends itself: a context that says so if it tries. */
function refuseSend(port: string): never {
  throw new Error(`The switch sent on ${port} itself; it must return actions instead`);
}

/** A test context for one switch, whose `send` throws (the switch must return actions instead). */
export function switchContext(owner: string): TestContext {
  return new TestContext(owner, { onSend: refuseSend });
}

/** A frame that went across the fake underlay. */
export interface WireFrame {
  readonly from: string;
  readonly port: string;
  readonly frame: Uint8Array;
}

/** A frame a switch handed to one of its vNICs. */
export interface Delivery {
  readonly node: string;
  readonly vnic: string;
  readonly frame: Uint8Array;
  readonly action: SwitchAction;
}

interface Member {
  readonly sw: OverlaySwitch;
  readonly ctx: TestContext;
}

/**
 * The physical network reduced to one learning L2 domain, like two top-of-rack switches joined by
 * an inter-switch link: it learns source MACs per (switch, uplink), sends a unicast to where its
 * destination was learned and floods everything else to every uplink (whose link is up) of every
 * other switch. It answers nothing itself. The switches' contexts share one lab clock.
 */
export class FakeUnderlay {
  readonly lab = new TestLab();
  /** Every frame put on the underlay, in order. */
  readonly wire: WireFrame[] = [];
  /** Every frame handed to a vNIC, in order. */
  readonly delivered: Delivery[] = [];
  /** Every drop, with the switch that decided it. */
  readonly drops: Array<{ node: string; action: SwitchAction }> = [];
  private readonly members = new Map<string, Member>();
  private readonly learned = new Map<string, { node: string; port: string }>();

  /** Joins a switch (under its owner id), giving it a context on the lab's clock whose overlay timers reach it. */
  add(sw: OverlaySwitch): void {
    const ctx: TestContext = this.lab.context(
      sw.owner,
      (name, data) => {
        if (name.startsWith(OVERLAY_TIMER_PREFIX)) this.pump(sw.owner, sw.onTimer(ctx, name, data));
      },
      { random: 0.5, onSend: refuseSend },
    );
    this.members.set(sw.owner, { sw, ctx });
  }

  private member(node: string): Member {
    const member = this.members.get(node);
    if (!member) throw new Error(`No switch ${node} on the fake underlay`);
    return member;
  }

  /** The switch and context of a node. */
  node(node: string): Member {
    return this.member(node);
  }

  /** A VM on `node` sends a frame; returns the actions its switch decided (the pump runs after). */
  send(node: string, vnic: string, frame: Uint8Array): SwitchAction[] {
    const { sw, ctx } = this.member(node);
    const actions = sw.fromVnic(ctx, vnic, frame);
    this.pump(node, actions);
    return actions;
  }

  /** Changes a link of a node and lets its switch react. */
  link(node: string, port: string, up: boolean): SwitchAction[] {
    const { sw, ctx } = this.member(node);
    ctx.setLink(port, up);
    const actions = sw.onLink(ctx, port, up);
    this.pump(node, actions);
    return actions;
  }

  /** Moves the lab's clock forward, firing the switches' timers (also those they set meanwhile) as they fall due. */
  advance(ns: VTime): void {
    this.lab.advance(ns);
  }

  private floodTargets(from: string): Array<{ node: string; port: string }> {
    return [...this.members.keys()]
      .sort()
      .filter((name) => name !== from)
      .flatMap((name) => this.member(name).sw.uplinks.map((port) => ({ node: name, port })));
  }

  /** Carries out actions: frames on uplinks go to the other switches, until nothing moves. */
  pump(node: string, actions: readonly SwitchAction[]): void {
    const queue: Array<{ node: string; action: SwitchAction }> = actions.map((action) => ({ node, action }));
    let steps = 0;
    while (queue.length > 0) {
      if (++steps > 10_000) throw new Error('The fake underlay is looping');
      const { node: from, action } = queue.shift()!;
      if (action.kind === 'to-vnic') {
        this.delivered.push({ node: from, vnic: action.vnic, frame: action.frame, action });
      } else if (action.kind === 'drop') {
        this.drops.push({ node: from, action });
      } else {
        if (!this.member(from).ctx.linkUp(action.port)) continue;
        this.wire.push({ from, port: action.port, frame: action.frame });
        const eth = decodeEthernet(action.frame);
        this.learned.set(eth.src, { node: from, port: action.port });
        const known = isMulticastMac(eth.dst) ? undefined : this.learned.get(eth.dst);
        const targets = known ? [known] : this.floodTargets(from);
        for (const target of targets) {
          const peer = this.member(target.node);
          if (target.node === from || !peer.ctx.linkUp(target.port)) continue;
          for (const next of peer.sw.fromUplink(peer.ctx, target.port, action.frame)) queue.push({ node: target.node, action: next });
        }
      }
    }
  }
}

/** A lab of three hosts: esx-a (dpu-a) and esx-b (dpu-b) with DPUs, kvm-c switching in software. */
export const SWITCHING_LAB_YAML = `
name: switching-lab
segments:
  - { id: web, kind: overlay, vni: 5001, ipv4Subnet: 10.0.1.0/24, ipv6Subnet: fd00:1::/64, gateway4: 10.0.1.1, gateway6: fd00:1::1 }
  - { id: app, kind: overlay, vni: 5002, ipv4Subnet: 10.0.2.0/24, gateway4: 10.0.2.1 }
  - { id: legacy, kind: vlan, vlan: 100, ipv4Subnet: 10.0.3.0/24, gateway4: 10.0.3.1 }
hosts:
  - id: esx-a
    vms:
      - { id: web-a1, vnics: [{ segment: web, ipv4: 10.0.1.21/24, ipv6: fd00:1::21/64 }] }
      - { id: web-a2, vnics: [{ segment: web, ipv4: 10.0.1.22/24, ipv6: fd00:1::22/64 }] }
      - { id: old-a, vnics: [{ segment: legacy, ipv4: 10.0.3.21/24 }] }
  - id: esx-b
    vms:
      - { id: web-b1, vnics: [{ segment: web, ipv4: 10.0.1.31/24 }] }
      - { id: app-b1, vnics: [{ segment: app, ipv4: 10.0.2.31/24 }] }
      - { id: old-b, vnics: [{ segment: legacy, ipv4: 10.0.3.31/24 }] }
  - id: kvm-c
    uplinks: [vmnic0, vmnic1]
    vms:
      - { id: web-c1, vnics: [{ segment: web, ipv4: 10.0.1.41/24 }] }
dpus:
  - { id: dpu-a, host: esx-a }
  - { id: dpu-b, host: esx-b }
switches:
  - { id: tor, ports: 8 }
wires:
  - { a: dpu-a:p0, b: tor:swp1 }
  - { a: dpu-b:p0, b: tor:swp2 }
  - { a: kvm-c:vmnic0, b: tor:swp3 }
`;

/** The three-host lab, resolved. */
export function switchingLab(): ResolvedTopology {
  return loadTopology(SWITCHING_LAB_YAML, 'switching-lab.yaml');
}

/** The vNICs of a host's VMs, as an owner passes them to its switch. */
export function hostVnics(topology: ResolvedTopology, host: string): LocalVnic[] {
  const node = topology.nodes.find((n): n is HostNode => n.kind === 'host' && n.id === host);
  if (!node) throw new Error(`No host ${host}`);
  return node.spec.vms.flatMap((vm) => vm.vnics.map((v) => ({ ...v, vm: vm.id })));
}

/**
 * The switch of a DPU (serving its host's vNICs when it is the active one) or of a host without
 * DPUs (uplinks vmnic0, vmnic1), with a fresh fake context.
 */
export function switchFor(topology: ResolvedTopology, owner: string, extra: Partial<OverlaySwitchOptions> = {}): { sw: OverlaySwitch; ctx: TestContext } {
  const sw = overlaySwitchFor(topology, owner, extra);
  return { sw, ctx: switchContext(owner) };
}

function overlaySwitchFor(topology: ResolvedTopology, owner: string, extra: Partial<OverlaySwitchOptions>): OverlaySwitch {
  const node = topology.nodes.find((n) => n.id === owner);
  if (!node || node.kind === 'switch' || node.kind === 'manager') throw new Error(`No DPU or host ${owner}`);
  const uplinks = node.kind === 'dpu' ? node.spec.uplinks : node.ports.map((p) => p.name);
  const vnics = node.kind === 'host' ? hostVnics(topology, owner) : node.spec.role === 'active' ? hostVnics(topology, node.spec.host) : [];
  return new OverlaySwitch({ owner, topology, tep: tepOf(topology, owner), uplinks, vnics, ...extra });
}

/** A fake underlay joining the switches of the given owners. */
export function underlayOf(topology: ResolvedTopology, owners: readonly string[], extra: Partial<OverlaySwitchOptions> = {}): FakeUnderlay {
  const underlay = new FakeUnderlay();
  for (const owner of owners) underlay.add(overlaySwitchFor(topology, owner, extra));
  return underlay;
}
