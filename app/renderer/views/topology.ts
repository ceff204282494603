/// <reference lib="dom" />
/**
 * The topology: hosts as boxes holding their DPUs and VMs, the switches, the cables with their
 * live load, and each vNIC as a line from its VM to the DPU that serves it now (its VF's DPU, or
 * the DPU its emulated backend's frames cross), drawn in its mode. Colours follow the cluster
 * state: DPU active, standby, unavailable or failed (by the role its host gives it); vNIC mode;
 * links down. Clicking anything selects it for the inspector.
 *
 * A visually hidden list mirrors every element with its state and colour, for screen readers and
 * for tests (the graph itself is a canvas).
 */
import cytoscape from 'cytoscape';
import type { Core, ElementDefinition, NodeSingular } from 'cytoscape';
import type { ResolvedTopology } from '../../../shared/topology/types.js';
import { api } from '../api.js';
import type { FrameResponse } from '../../common/protocol.js';
import { h, replace } from '../dom.js';
import { rate, vtime } from '../format.js';
import type { ClusterState, MigrationView } from '../../../shared/state/cluster-state.js';
import { lastMigration, migrationUnderWay } from '../../../shared/state/queries.js';
import { PacketLayer, PROTOCOL_COLORS, responseProtocol, type PacketProtocol, type PacketTrip } from './packets.js';
import { vmotionProgress, type VmotionProgress } from './vmotion-stage.js';
import { CaptureStreams } from './capture-streams.js';
import { dpuRoleView, nodeCondition, vmsByHost, vnicStateView, wireLoad, wireUp, type NodeCondition } from '../../../shared/state/node-view.js';
import type { Store } from '../store.js';

/** Fill colour of a node by its condition. */
export const CONDITION_COLORS: Record<NodeCondition, string> = {
  up: '#475569',
  active: '#15966a',
  standby: '#2f6aa3',
  unavailable: '#c9781d',
  failed: '#d23f3f',
  stopped: '#4b5563',
  'not-started': '#334155',
};

/** Colour of a vNIC by the mode it runs in. */
export const MODE_COLORS: Record<string, string> = {
  uptv2: '#14b8a6',
  mux: '#a78bfa',
  emulated: '#f59e0b',
  unknown: '#64748b',
};

const id = {
  node: (n: string) => `n:${n}`,
  vm: (v: string) => `vm:${v}`,
  wire: (w: string) => `w:${w}`,
  vnic: (v: string) => `v:${v}`,
  /** Where a VM on its way in will be: a dashed outline in the destination's box. */
  ghost: (v: string) => `g:${v}`,
  /** The arrow from a migrating VM to its ghost, labelled with the progress. */
  vmotion: (v: string) => `m:${v}`,
};

type HostNode = Extract<ResolvedTopology['nodes'][number], { kind: 'host' }>;
type VmSpec = HostNode['spec']['vms'][number];

/** Which VMs each host runs, in drawing order: its own (topology order), then visitors by id. */
export type Placement = ReadonlyMap<string, readonly VmSpec[]>;

/** Where every VM runs in `lab`: a vMotion moves a VM into its destination's box. */
export function placement(topology: ResolvedTopology, lab: ClusterState): Placement {
  return vmsByHost(lab, topology);
}

/** Room each host keeps for VMs from elsewhere: so that a vMotion in moves nothing else. */
const SPARE_SLOTS = 2;
/** The canvas grid, in model units: the width of a VM's slot, and the heights of the DPU and VM rows. */
const GRID = { slot: 112, dpuRow: 250, vmRow: 390 } as const;

/** A host's box, in model coordinates. */
interface HostBox {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

/**
 * Where everything is drawn. Hosts are fixed boxes, each with a slot per VM of its own and
 * {@link SPARE_SLOTS} slots for visitors: a VM away leaves its slot empty and a visitor (or a VM
 * on its way in, drawn as a ghost) takes a spare one, so a vMotion moves only the VM that moves.
 * Only more visitors than spare slots widen a host (and move the others).
 */
interface Layout {
  readonly positions: Map<string, { x: number; y: number }>;
  readonly boxes: Map<string, HostBox>;
  /** Slots per host: it changes only when a host needs more than its spare ones. */
  readonly key: string;
}

/** VMs drawn in a host that are not its own: visitors, then ghosts of VMs on their way in. */
function guestsOf(host: HostNode, places: Placement, incoming: ReadonlyMap<string, readonly string[]>): string[] {
  const own = new Set(host.spec.vms.map((v) => v.id));
  const visitors = (places.get(host.id) ?? []).filter((v) => !own.has(v.id)).map((v) => v.id);
  return [...visitors, ...(incoming.get(host.id) ?? []).filter((v) => !visitors.includes(v)).map((v) => `ghost:${v}`)];
}

function layout(topology: ResolvedTopology, places: Placement, incoming: ReadonlyMap<string, readonly string[]>): Layout {
  const positions = new Map<string, { x: number; y: number }>();
  const boxes = new Map<string, HostBox>();
  const switches = topology.nodes.filter((n) => n.kind === 'switch');
  const hosts = topology.nodes.filter((n): n is HostNode => n.kind === 'host');
  const slots = hosts.map((host) => host.spec.vms.length + Math.max(SPARE_SLOTS, guestsOf(host, places, incoming).length));
  const widths = hosts.map((host, i) => Math.max(host.spec.dpus.length * 130, slots[i]! * GRID.slot, 260) + 44);
  const total = widths.reduce((a, b) => a + b, 0) + Math.max(0, hosts.length - 1) * 60;
  let x = -total / 2;
  hosts.forEach((host, i) => {
    const width = widths[i]!;
    const center = x + width / 2;
    const top = GRID.dpuRow - 21 - 22;
    const bottom = GRID.vmRow + 17 + 22;
    boxes.set(host.id, { x: center, y: (top + bottom) / 2, width, height: bottom - top });
    positions.set(id.node(host.id), { x: center, y: (top + bottom) / 2 });
    host.spec.dpus.forEach((dpu, j) => positions.set(id.node(dpu), { x: center + (j - (host.spec.dpus.length - 1) / 2) * 130, y: GRID.dpuRow }));
    const slotX = (k: number): number => center + (k - (slots[i]! - 1) / 2) * GRID.slot;
    // Its own VMs keep their slots whether they are home or not.
    host.spec.vms.forEach((vm, k) => {
      if ((places.get(host.id) ?? []).some((v) => v.id === vm.id)) positions.set(id.vm(vm.id), { x: slotX(k), y: GRID.vmRow });
    });
    guestsOf(host, places, incoming).forEach((guest, k) => {
      const key = guest.startsWith('ghost:') ? id.ghost(guest.slice('ghost:'.length)) : id.vm(guest);
      positions.set(key, { x: slotX(host.spec.vms.length + k), y: GRID.vmRow });
    });
    x += width + 60;
  });
  const spread = Math.max(total / Math.max(1, switches.length), 300);
  switches.forEach((s, i) => positions.set(id.node(s.id), { x: (i - (switches.length - 1) / 2) * spread * 0.75, y: 20 }));
  // The manager sits above the fabric, out of band: its cables run to every host and DPU.
  for (const m of topology.nodes.filter((n) => n.kind === 'manager')) positions.set(id.node(m.id), { x: 0, y: -90 });
  return { positions, boxes, key: slots.join(',') };
}

function elements(topology: ResolvedTopology, view: Layout): ElementDefinition[] {
  const out: ElementDefinition[] = [];
  for (const node of topology.nodes) {
    if (node.kind === 'host') {
      const box = view.boxes.get(node.id)!;
      out.push({ group: 'nodes', data: { id: id.node(node.id), kind: 'host', ref: node.id, label: `${node.id}  ·  ${node.spec.x86Cores} x86 cores`, w: box.width, hgt: box.height }, position: { x: box.x, y: box.y }, classes: 'host' });
    }
  }
  for (const node of topology.nodes) {
    if (node.kind === 'host') {
      for (const vm of node.spec.vms) {
        out.push({ group: 'nodes', data: { id: id.vm(vm.id), kind: 'vm', ref: vm.id, label: vm.id, color: MODE_COLORS.unknown }, position: view.positions.get(id.vm(vm.id)) ?? { x: 0, y: GRID.vmRow }, classes: 'vm' });
      }
    } else if (node.kind === 'dpu') {
      out.push({ group: 'nodes', data: { id: id.node(node.id), kind: 'dpu', ref: node.id, label: node.id, color: CONDITION_COLORS['not-started'] }, position: view.positions.get(id.node(node.id))!, classes: 'dpu' });
    } else if (node.kind === 'switch' || node.kind === 'manager') {
      out.push({ group: 'nodes', data: { id: id.node(node.id), kind: node.kind, ref: node.id, label: node.id, color: CONDITION_COLORS['not-started'] }, position: view.positions.get(id.node(node.id))!, classes: node.kind });
    }
  }
  for (const wire of topology.wires) {
    if (wire.kind === 'pcie') continue;
    out.push({
      group: 'edges',
      data: { id: id.wire(wire.id), source: id.node(wire.a.node), target: id.node(wire.b.node), kind: 'wire', ref: wire.id, label: '', width: wire.kind === 'mgmt' ? 1 : 2, color: '#51637a', aPort: wire.a.port, bPort: wire.b.port },
      classes: wire.kind === 'mgmt' ? 'wire mgmt' : 'wire',
    });
  }
  return out;
}

const STYLE: cytoscape.StylesheetJson = [
  // Drawn in z-index order, edges among nodes: cables over the host boxes, under the DPUs.
  { selector: 'node, edge', style: { 'z-index-compare': 'manual' } },
  { selector: 'node', style: { label: 'data(label)', color: '#e2e8f0', 'font-size': 11, 'font-family': 'Inter, system-ui, sans-serif', 'text-valign': 'center', 'text-halign': 'center', 'text-wrap': 'wrap' } },
  {
    selector: 'node.host',
    style: {
      shape: 'round-rectangle',
      width: 'data(w)',
      height: 'data(hgt)',
      'z-index': 0,
      'background-color': '#152131',
      'background-opacity': 1,
      'border-color': '#2c3e55',
      'border-width': 1.5,
      'text-valign': 'top',
      'text-halign': 'center',
      'text-margin-y': -6,
      color: '#9fb3c8',
      'font-size': 12,
      'font-weight': 600,
    },
  },
  { selector: 'node.dpu, node.vm, node.switch, node.manager', style: { 'z-index': 10 } },
  { selector: 'node.dpu', style: { shape: 'round-rectangle', width: 104, height: 42, 'background-color': 'data(color)', 'border-width': 0, 'font-weight': 600 } },
  { selector: 'node.vm', style: { shape: 'round-rectangle', width: 92, height: 34, 'background-color': '#0f1b2a', 'border-width': 2, 'border-color': 'data(color)', color: '#e2e8f0' } },
  { selector: 'node.switch', style: { shape: 'round-rectangle', width: 130, height: 40, 'background-color': 'data(color)', 'border-width': 1, 'border-color': '#64748b', 'font-weight': 600 } },
  { selector: 'node.manager', style: { shape: 'round-rectangle', width: 130, height: 40, 'background-color': 'data(color)', 'border-width': 1, 'border-color': '#a78bfa', 'font-weight': 600 } },
  {
    selector: 'edge.wire',
    style: {
      width: 'data(width)',
      'line-color': 'data(color)',
      'curve-style': 'bezier',
      label: 'data(label)',
      'font-size': 10,
      color: '#7dd3fc',
      'text-background-color': '#0b1320',
      'text-background-opacity': 0.85,
      'text-background-padding': '2px',
      'text-rotation': 'autorotate',
      'z-index': 5,
    },
  },
  // Port names at each end of a cable, small, where the cable leaves the node.
  {
    selector: 'edge.wire.ports',
    style: {
      'source-label': 'data(aPort)',
      'target-label': 'data(bPort)',
      'source-text-offset': 34,
      'target-text-offset': 34,
      'font-size': 9,
      'source-text-rotation': 'autorotate',
      'target-text-rotation': 'autorotate',
    },
  },
  { selector: 'edge.capturing', style: { 'underlay-color': '#facc15', 'underlay-opacity': 0.55, 'underlay-padding': 6 } },
  { selector: 'edge.wire.down', style: { 'line-style': 'dashed', 'line-dash-pattern': [6, 4] } },
  { selector: 'edge.wire.blocked', style: { 'line-style': 'dotted', opacity: 0.5 } },
  { selector: 'edge.wire.mgmt', style: { 'line-style': 'dotted', opacity: 0.45, 'curve-style': 'straight' } },
  { selector: 'edge.vnic', style: { 'z-index': 6, width: 2, 'line-color': 'data(color)', 'curve-style': 'straight', 'target-arrow-shape': 'none', opacity: 0.9 } },
  { selector: 'edge.vnic.mux', style: { 'line-style': 'dashed' } },
  { selector: 'edge.vnic.emulated', style: { 'line-style': 'dotted', width: 2.5 } },
  { selector: 'edge.vnic.broken', style: { 'line-color': '#d23f3f', 'line-style': 'dashed', opacity: 0.6 } },
  { selector: ':selected', style: { 'overlay-color': '#38bdf8', 'overlay-opacity': 0.18, 'overlay-padding': 6 } },
  { selector: 'node.vm.draggable', style: { 'border-style': 'double' } },
  { selector: 'node.vm.migrating', style: { 'border-style': 'dashed', 'border-width': 3, height: 48, width: 104 } },
  { selector: 'node.vm.aborted', style: { 'border-color': '#ef4444', 'border-style': 'double', 'border-width': 4, height: 48, width: 104 } },
  { selector: 'node.ghost', style: { shape: 'round-rectangle', width: 92, height: 48, 'background-opacity': 0.15, 'background-color': '#38bdf8', 'border-width': 2, 'border-style': 'dashed', 'border-color': '#38bdf8', color: '#7dd3fc', 'font-size': 10, 'z-index': 10 } },
  {
    selector: 'edge.vmotion',
    style: {
      width: 3,
      'line-color': '#38bdf8',
      'line-style': 'dashed',
      'line-dash-pattern': [8, 5],
      'target-arrow-shape': 'triangle',
      'target-arrow-color': '#38bdf8',
      'curve-style': 'unbundled-bezier',
      'control-point-distances': [-70],
      'control-point-weights': [0.5],
      label: 'data(label)',
      'font-size': 11,
      'font-weight': 600,
      color: '#e0f2fe',
      'text-background-color': '#0b3a5a',
      'text-background-opacity': 0.95,
      'text-background-padding': '3px',
      'text-background-shape': 'roundrectangle',
      'z-index': 20,
    },
  },
];

/** A menu entry: its text and what it does. */
interface MenuItem {
  readonly label: string;
  readonly id: string;
  readonly danger?: boolean;
  readonly run: () => void | Promise<void>;
}

/** Frames a step may animate at once: more would be a blur, not a picture. */
const MAX_PACKETS_PER_STEP = 12;
/** A seek further than this many events is a jump, not a step: nothing is animated. */
const MAX_STEP_EVENTS = 400;

/** The topology view. */
export class TopologyView {
  private cy: Core | null = null;
  private topology: ResolvedTopology | null = null;
  /** Where the graph draws each VM, and the positions that go with it. */
  private places: Placement = new Map();
  private layoutKey = '';
  private view: Layout = { positions: new Map(), boxes: new Map(), key: '' };
  private readonly canvas: HTMLElement;
  private readonly mirror: HTMLElement;
  private readonly tooltip: HTMLElement;
  private readonly menu: HTMLElement;
  private readonly toast: HTMLElement;
  private readonly packets = new PacketLayer();
  private readonly captures = new CaptureStreams(() => this.update());
  /** Replay: the cursor the view showed last, to tell a step from a jump. */
  private shownCursor: number | null = null;
  /** Live: the last streamed event the view has seen. */
  private seenSeq = -1;

  constructor(
    private readonly root: HTMLElement,
    private readonly store: Store,
    private readonly onVmotion: (vm: string, to: string) => void,
  ) {
    this.canvas = h('div', { class: 'topology-canvas', 'aria-hidden': 'true' });
    this.mirror = h('ul', { id: 'topology-elements', class: 'sr-only', 'aria-label': 'Topology elements' });
    this.tooltip = h('div', { id: 'topology-tooltip', class: 'topology-tooltip', role: 'tooltip', hidden: true });
    this.menu = h('div', { id: 'topology-menu', class: 'topology-menu', role: 'menu', hidden: true });
    this.toast = h('div', { id: 'topology-toast', class: 'topology-toast', role: 'status', 'aria-live': 'polite' });
    const fit = h('button', { id: 'topology-fit', class: 'secondary topology-fit', title: 'Fit the whole topology in view', onclick: () => this.cy?.fit(undefined, 24) }, '⤢ Fit');
    const stage = h('div', { class: 'topology-stage' }, this.canvas, this.packets.element, this.captures.element, this.tooltip, this.menu, this.toast, fit);
    replace(root, this.legend(), stage, this.mirror);
    store.on('run', () => this.build());
    store.on('lab', () => this.update());
    store.on('status', () => this.update());
    store.on('selection', () => this.highlight());
    store.on('cursor', () => void this.stepped());
    store.on('events', () => void this.streamed());
    // The graph's own mouseout does not fire when the pointer leaves the canvas in one move.
    this.canvas.addEventListener('mouseleave', () => this.hideTooltip());
    document.addEventListener('pointerdown', (e) => {
      if (!this.menu.hidden && !this.menu.contains(e.target as Node)) this.closeMenu();
    });
    document.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') this.closeMenu();
    });
    new ResizeObserver(() => {
      this.cy?.resize();
      this.cy?.fit(undefined, 24);
    }).observe(this.canvas);
  }

  private legend(): HTMLElement {
    const item = (color: string, text: string, shape = 'dot'): HTMLElement => h('span', { class: `legend-item legend-${shape}` }, h('i', { style: `background:${color}` }), text);
    const packet = (protocol: PacketProtocol, text: string): HTMLElement => h('span', { class: 'legend-item legend-packet' }, h('i', { style: `background:${PROTOCOL_COLORS[protocol]}` }), text);
    return h(
      'div',
      { class: 'legend' },
      item(CONDITION_COLORS.active, 'active'),
      item(CONDITION_COLORS.standby, 'standby'),
      item(CONDITION_COLORS.unavailable, 'unavailable'),
      item(CONDITION_COLORS.failed, 'failed'),
      h('span', { class: 'legend-sep' }),
      item(MODE_COLORS.uptv2!, 'UPTv2', 'line'),
      item(MODE_COLORS.mux!, 'MUX', 'line'),
      item(MODE_COLORS.emulated!, 'emulated', 'line'),
      item('#ef4444', 'link down', 'line'),
      h('span', { class: 'legend-sep' }),
      h('span', { class: 'muted', title: 'Step through the run: each frame travels its wire as a dot' }, 'packets:'),
      packet('tcp', 'TCP'),
      packet('udp', 'UDP'),
      packet('icmp', 'ICMP'),
      packet('arp', 'ARP'),
      packet('nd', 'ICMPv6/ND'),
      packet('lldp', 'LLDP'),
      packet('pcie', 'PCIe'),
    );
  }

  private build(): void {
    const run = this.store.run;
    if (!run || this.topology === run.topology) return;
    this.topology = run.topology;
    this.cy?.destroy();
    this.places = placement(run.topology, this.store.lab);
    this.view = layout(run.topology, this.places, incoming(this.store.lab));
    this.layoutKey = this.view.key;
    const canDrag = run.actions.includes('vmotion');
    const cy = cytoscape({
      container: this.canvas,
      elements: elements(run.topology, this.view),
      style: STYLE,
      layout: { name: 'preset', padding: 24 },
      minZoom: 0.3,
      maxZoom: 2.5,
      boxSelectionEnabled: false,
      autoungrabify: !canDrag,
    });
    this.cy = cy;
    cy.edges('.wire').addClass('ports');
    cy.nodes('.dpu, .switch, .host, .manager').ungrabify();
    if (canDrag) cy.nodes('.vm').addClass('draggable');
    cy.on('tap', 'node, edge', (event) => {
      this.closeMenu();
      const target = event.target as cytoscape.SingularElementArgument;
      const kind = target.data('kind') as string;
      const ref = target.data('ref') as string;
      if (kind === 'vm') this.store.select({ type: 'vm', id: ref });
      else if (kind === 'wire') this.store.select({ type: 'wire', id: ref });
      else if (kind === 'vnic') this.store.select({ type: 'vnic', id: ref });
      else if (kind === 'ghost' || kind === 'vmotion') this.store.select({ type: 'vm', id: ref });
      else this.store.select({ type: 'node', id: ref });
    });
    cy.on('tap', (event) => {
      if (event.target === cy) {
        this.closeMenu();
        this.store.select(null);
      }
    });
    cy.on('cxttap', 'node, edge', (event) => {
      const target = event.target as cytoscape.SingularElementArgument;
      this.openMenu(target.data('kind') as string, target.data('ref') as string, event.renderedPosition ?? { x: 0, y: 0 });
    });
    cy.on('mouseover mousemove', 'node, edge', (event) => this.showTooltip(event.target as cytoscape.SingularElementArgument, event.renderedPosition ?? { x: 0, y: 0 }));
    cy.on('mouseout', 'node, edge', () => this.hideTooltip());
    cy.on('grab', 'node', () => this.hideTooltip());
    // vMotion by dragging a VM onto another host (only when the server knows the action). The VM
    // goes back to its place at once: it moves when the lab state says it runs elsewhere.
    cy.on('free', 'node.vm', (event) => {
      const vm = event.target as NodeSingular;
      const position = vm.position();
      const ref = vm.data('ref') as string;
      const from = this.drawnIn(ref);
      const to = cy.nodes('.host').filter((host) => {
        const box = host.boundingBox({ includeLabels: false });
        return host.data('ref') !== from && position.x >= box.x1 && position.x <= box.x2 && position.y >= box.y1 && position.y <= box.y2;
      });
      const dropped = to.first();
      const home = this.view.positions.get(vm.id());
      if (home) vm.position(home);
      if (dropped.nonempty()) this.onVmotion(ref, dropped.data('ref') as string);
    });
    this.update();
    cy.fit(undefined, 24);
    cy.on('viewport resize', () => this.placeMirror());
  }

  /** The host a VM is drawn in. */
  private drawnIn(vm: string): string {
    for (const [host, vms] of this.places) if (vms.some((v) => v.id === vm)) return host;
    return '';
  }

  /**
   * Puts VMs where the lab state says they run, and ghosts where migrations are going. Moves
   * only what moved; the rest (and the zoom) stay, unless a host needed more slots.
   */
  private place(cy: Core, topology: ResolvedTopology, lab: ClusterState): void {
    this.places = placement(topology, lab);
    const coming = incoming(lab);
    this.view = layout(topology, this.places, coming);
    const relaid = this.view.key !== this.layoutKey;
    this.layoutKey = this.view.key;
    if (relaid) {
      for (const [host, box] of this.view.boxes) cy.getElementById(id.node(host)).data({ w: box.width, hgt: box.height });
    }
    // Ghosts of VMs on their way in, and the arrows to them.
    const ghosts = new Set([...coming.values()].flat());
    cy.nodes('.ghost').forEach((g) => {
      if (!ghosts.has(g.data('ref') as string)) g.remove();
    });
    for (const vm of ghosts) {
      const key = id.ghost(vm);
      const at = this.view.positions.get(key);
      if (!at) continue;
      if (cy.getElementById(key).empty()) cy.add({ group: 'nodes', data: { id: key, kind: 'ghost', ref: vm, label: `${vm}\nincoming` }, position: at, classes: 'ghost' }).ungrabify();
    }
    for (const [key, position] of this.view.positions) {
      const element = cy.getElementById(key);
      const now = element.position();
      if (element.nonempty() && !element.grabbed() && (now.x !== position.x || now.y !== position.y)) element.position(position);
    }
  }

  /** Recolours everything from the lab state; moves VMs, adds and moves vNIC lines. */
  private update(): void {
    const cy = this.cy;
    const topology = this.topology;
    if (!cy || !topology) return;
    const lab = this.store.lab;
    // Load is measured where the lab state is: it arrives a few times a second, the clock more often.
    const now = lab.vtime;
    const mirror: HTMLElement[] = [];
    const capturing = this.captures.active();
    this.place(cy, topology, lab);
    cy.batch(() => {
      for (const node of topology.nodes) {
        if (node.kind === 'host') {
          const condition = nodeCondition(lab, topology, node.id);
          mirror.push(h('li', { 'data-id': node.id, 'data-kind': 'host', 'data-state': condition }, `${node.id}: host ${condition}`));
          for (const vm of this.places.get(node.id) ?? []) {
            const first = vm.vnics[0];
            const mode = first ? (lab.vnics[first.id]?.active ?? 'unknown') : 'unknown';
            const color = MODE_COLORS[mode] ?? MODE_COLORS.unknown!;
            const migration = migrationUnderWay(lab, vm.id);
            const last = migration ?? lastMigration(lab, vm.id);
            const progress = last ? vmotionProgress(last) : null;
            const aborted = migration === null && progress?.stage === 'aborted';
            const element = cy.getElementById(id.vm(vm.id));
            // The host the graph draws it in, which is what a person sees.
            const drawnIn = node.id;
            const badge = migration ? `\n${progress!.stage === 'pre-copy' ? `round ${progress!.round}` : progress!.stage} → ${migration.to}` : aborted ? '\n⚠ vMotion aborted' : '';
            element.data({ color, label: `${vm.id}\n${mode === 'unknown' ? '' : mode}${badge}` });
            element.toggleClass('migrating', migration !== null);
            element.toggleClass('aborted', aborted);
            this.drawVmotion(cy, vm.id, migration, progress);
            const where = migration ? `, vMotion to ${migration.to}: ${progress!.text}` : aborted ? `, its vMotion to ${last!.to} aborted (${last!.reason ?? 'no reason given'})` : '';
            const shown = migration !== null || aborted;
            mirror.push(
              h(
                'li',
                {
                  'data-id': vm.id,
                  'data-kind': 'vm',
                  'data-state': mode,
                  'data-color': color,
                  'data-host': drawnIn,
                  'data-vmotion': migration?.phase ?? '',
                  'data-vmotion-stage': shown ? progress!.stage : '',
                  'data-vmotion-text': shown ? progress!.text : '',
                  'data-vmotion-to': shown ? last!.to : '',
                  'data-round': shown ? String(progress!.round) : '',
                  'data-pages-sent': shown && progress!.lastRound ? String(progress!.lastRound.pagesSent) : '',
                  'data-pages-dirtied': shown && progress!.lastRound ? String(progress!.lastRound.pagesDirtied) : '',
                },
                `${vm.id}: VM on ${drawnIn}, vNIC ${mode}${where}`,
              ),
            );
            for (const vnic of vm.vnics) {
              const edgeId = id.vnic(vnic.id);
              const view = vnicStateView(lab, topology, vnic.id);
              const vnicMode = view?.active || 'unknown';
              // The line goes to the DPU that serves the vNIC now: a failover or a vMotion moves it.
              const serving = view?.serving.dpu ?? null;
              let edge = cy.getElementById(edgeId);
              const target = serving ? id.node(serving) : null;
              if (edge.nonempty() && (target === null || edge.data('target') !== target)) {
                edge.remove();
                edge = cy.collection();
              }
              if (edge.empty() && target) {
                edge = cy.add({ group: 'edges', data: { id: edgeId, source: id.vm(vm.id), target, kind: 'vnic', ref: vnic.id, color: MODE_COLORS.unknown }, classes: 'vnic' });
              }
              const broken = (serving !== null && ['failed', 'unavailable', 'stopped'].includes(nodeCondition(lab, topology, serving))) || (view?.disconnected ?? null) !== null;
              edge.data({ color: MODE_COLORS[vnicMode] ?? MODE_COLORS.unknown! });
              edge.classes(['vnic', vnicMode, broken ? 'broken' : '', capturing.has(vnic.id) ? 'capturing' : ''].filter(Boolean).join(' '));
              const device = view?.serving.device === 'vf' ? `vf ${view.serving.vf ?? '?'}` : 'backend';
              mirror.push(
                h(
                  'li',
                  { 'data-id': vnic.id, 'data-kind': 'vnic', 'data-state': vnicMode, 'data-dpu': serving ?? '', 'data-device': device, 'data-broken': String(broken) },
                  `${vnic.id}: ${vnicMode} via ${serving ?? 'no DPU'} (${device})${broken ? ', broken' : ''}`,
                ),
              );
            }
          }
        } else {
          const condition = nodeCondition(lab, topology, node.id);
          const color = CONDITION_COLORS[condition];
          const role = node.kind === 'dpu' ? `\n${condition}` : condition === 'up' ? '' : `\n${condition}`;
          cy.getElementById(id.node(node.id)).data({ color, label: `${node.id}${role}` });
          const dpu = node.kind === 'dpu' ? dpuRoleView(lab, topology, node.id) : null;
          const roles = dpu ? { 'data-role': dpu.role ?? '', 'data-own-role': dpu.ownRole ?? '' } : {};
          const says = dpu ? `, role ${dpu.role ?? '?'} (its own: ${dpu.ownRole ?? 'nothing'})` : '';
          mirror.push(h('li', { 'data-id': node.id, 'data-kind': node.kind, 'data-state': condition, 'data-color': color, ...roles }, `${node.id}: ${node.kind} ${condition}${says}`));
        }
      }
      for (const wire of topology.wires) {
        if (wire.kind === 'pcie') continue;
        const up = wireUp(lab, wire);
        const load = up ? wireLoad(lab, wire.id, now) : 0;
        const base = wire.kind === 'mgmt' ? 1 : 2;
        const width = up ? Math.min(9, base + Math.log10(1 + load) * 1.8) : base;
        const color = !up ? '#ef4444' : load > 0 ? '#38bdf8' : '#51637a';
        const edge = cy.getElementById(id.wire(wire.id));
        edge.data({ width, color, label: up && load > 0 ? `${rate(load)} f/s` : '' });
        edge.toggleClass('down', !up);
        edge.toggleClass('capturing', capturing.has(wire.id));
        edge.toggleClass('blocked', up && [wire.a, wire.b].some((end) => lab.ports[`${end.node}:${end.port}`]?.blocked === true));
        mirror.push(
          h(
            'li',
            { 'data-id': wire.id, 'data-kind': 'wire', 'data-state': up ? 'up' : 'down', 'data-load': Math.round(load), 'data-capturing': String(capturing.has(wire.id)), 'data-ports': `${wire.a.node}:${wire.a.port} ${wire.b.node}:${wire.b.port}` },
            `${wire.id}: ${wire.a.node}:${wire.a.port} to ${wire.b.node}:${wire.b.port}, ${up ? 'up' : 'down'}, ${Math.round(load)} frames/s`,
          ),
        );
      }
    });
    replace(this.mirror, mirror);
    this.placeMirror();
    this.highlight();
  }

  /** The arrow from a migrating VM to where it is going, labelled with the stage, round and pages. */
  private drawVmotion(cy: Core, vm: string, migration: MigrationView | null, progress: VmotionProgress | null): void {
    const key = id.vmotion(vm);
    const ghost = id.ghost(vm);
    const edge = cy.getElementById(key);
    if (!migration || !progress || cy.getElementById(ghost).empty()) {
      edge.remove();
      return;
    }
    if (edge.empty()) cy.add({ group: 'edges', data: { id: key, source: id.vm(vm), target: ghost, kind: 'vmotion', ref: vm, label: progress.text }, classes: 'vmotion' });
    else edge.data({ label: progress.text });
    cy.getElementById(ghost).data({ label: `${vm}\n${progress.stage === 'pre-copy' ? `round ${progress.round}` : progress.stage}` });
  }

  /** Where each element is drawn (relative to the canvas), so a test or a tool can click it. */
  private placeMirror(): void {
    const cy = this.cy;
    if (!cy) return;
    for (const li of this.mirror.querySelectorAll('li')) {
      const kind = li.getAttribute('data-kind');
      const ref = li.getAttribute('data-id')!;
      const key = kind === 'vm' ? id.vm(ref) : kind === 'wire' ? id.wire(ref) : kind === 'vnic' ? id.vnic(ref) : id.node(ref);
      const element = cy.getElementById(key);
      if (element.empty()) continue;
      let point = element.isEdge() ? (element as cytoscape.EdgeSingular).renderedMidpoint() : (element as cytoscape.NodeSingular).renderedPosition();
      if (kind === 'host') {
        // A host's centre is covered by its DPUs, VMs and cables: point into its bottom-left margin.
        const box = element.renderedBoundingBox({ includeLabels: false });
        point = { x: box.x1 + 10, y: box.y2 - 8 };
        // Its box too, so a drop target and what it holds can be told from outside the canvas.
        li.setAttribute('data-box', [box.x1, box.y1, box.x2, box.y2].map((v) => Math.round(v)).join(' '));
      }
      if (kind === 'wire') {
        const edge = element as cytoscape.EdgeSingular;
        const a = edge.renderedSourceEndpoint();
        const b = edge.renderedTargetEndpoint();
        li.setAttribute('data-ends', [a.x, a.y, b.x, b.y].map((v) => Math.round(v)).join(' '));
      }
      if (kind === 'vm') {
        const ghost = cy.getElementById(id.ghost(ref));
        if (ghost.nonempty()) {
          const g = (ghost as cytoscape.NodeSingular).renderedPosition();
          li.setAttribute('data-ghost', `${Math.round(g.x)} ${Math.round(g.y)}`);
        } else li.removeAttribute('data-ghost');
      }
      li.setAttribute('data-x', String(Math.round(point.x)));
      li.setAttribute('data-y', String(Math.round(point.y)));
    }
  }

  private highlight(): void {
    const cy = this.cy;
    if (!cy) return;
    const s = this.store.selection;
    cy.elements().unselect();
    if (!s || s.type === 'event') return;
    const key = s.type === 'node' ? id.node(s.id) : s.type === 'vm' ? id.vm(s.id) : s.type === 'wire' ? id.wire(s.id) : id.vnic(s.id);
    cy.getElementById(key).select();
  }

  // --- tooltips

  /** What a tooltip says about an element; near a cable's end, about the port there. */
  private tooltipText(target: cytoscape.SingularElementArgument, at: { x: number; y: number }): string[] {
    const topology = this.topology;
    if (!topology) return [];
    const lab = this.store.lab;
    const kind = target.data('kind') as string;
    const ref = target.data('ref') as string;
    if (kind === 'wire') {
      const wire = topology.wires.find((w) => w.id === ref);
      if (!wire) return [];
      const edge = target as cytoscape.EdgeSingular;
      const a = edge.renderedSourceEndpoint();
      const b = edge.renderedTargetEndpoint();
      const near = (p: { x: number; y: number }): number => Math.hypot(p.x - at.x, p.y - at.y);
      const end = near(a) < 50 && near(a) <= near(b) ? wire.a : near(b) < 50 ? wire.b : null;
      if (end) return this.portText(end.node, end.port);
      const up = wireUp(lab, wire);
      const load = up ? wireLoad(lab, wire.id, lab.vtime) : 0;
      return [`${wire.id} (${wire.kind} cable)`, `${wire.a.node}:${wire.a.port} ↔ ${wire.b.node}:${wire.b.port}`, `${up ? 'up' : 'down'}, ${Math.round(load)} frames/s`, 'Right-click for link down/up and capture'];
    }
    if (kind === 'vnic') {
      const view = vnicStateView(lab, topology, ref);
      return [`vNIC ${ref}`, `${view?.active ?? 'unknown'} via ${view?.serving.dpu ?? 'no DPU'} (${view?.serving.device ?? '?'})`];
    }
    if (kind === 'vm' || kind === 'ghost' || kind === 'vmotion') {
      const migration = migrationUnderWay(lab, ref) ?? lastMigration(lab, ref);
      const lines = [`VM ${ref} on ${this.drawnIn(ref)}`];
      if (migration) {
        lines.push(`vMotion ${migration.from} → ${migration.to}: ${vmotionProgress(migration).text}`);
        // Every round kept, pages sent / dirtied: how fast the copy converges.
        for (const r of migration.rounds) lines.push(`  round ${r.round + 1}: ${r.pagesSent.toLocaleString('en-US')} sent / ${r.pagesDirtied.toLocaleString('en-US')} dirtied`);
      }
      lines.push('Right-click for vMotion and capture');
      return lines;
    }
    const node = topology.nodes.find((n) => n.id === ref);
    if (!node) return [];
    const condition = nodeCondition(lab, topology, ref);
    const lines = [`${ref} (${node.kind}): ${condition}`];
    if (node.kind === 'dpu') {
      const role = dpuRoleView(lab, topology, ref);
      lines.push(`role ${role?.role ?? '?'} on ${node.spec.host}`);
    }
    if (node.kind === 'host') lines.push(`${node.spec.x86Cores} x86 cores, DPUs ${node.spec.dpus.join(', ')}`);
    lines.push(`ports: ${node.ports.map((p) => p.name).join(', ')}`);
    lines.push('Right-click for kill, restart and more');
    return lines;
  }

  /** A port: its node, state, cable and LLDP neighbour. */
  private portText(node: string, port: string): string[] {
    const lab = this.store.lab;
    const state = lab.ports[`${node}:${port}`];
    const neighbor = lab.lldp[node]?.[port];
    const wire = this.topology?.wires.find((w) => (w.a.node === node && w.a.port === port) || (w.b.node === node && w.b.port === port));
    // A port no link event has spoken of is as its cable is.
    const up = state?.up ?? (wire ? wireUp(lab, wire) : true);
    return [
      `port ${node}:${port}`,
      `${up ? 'up' : 'down'}${state?.blocked ? ', blocked by spanning tree' : ''}`,
      `cable ${wire?.id ?? '?'}`,
      `LLDP neighbour: ${neighbor ? JSON.stringify(neighbor).replace(/[{}"]/g, '').replace(/,/g, ', ') : 'none yet'}`,
    ];
  }

  private showTooltip(target: cytoscape.SingularElementArgument, at: { x: number; y: number }): void {
    if (!this.menu.hidden) return;
    const lines = this.tooltipText(target, at);
    if (lines.length === 0) return this.hideTooltip();
    replace(
      this.tooltip,
      lines.map((line, i) => h(i === 0 ? 'strong' : 'div', {}, line)),
    );
    this.tooltip.setAttribute('data-for', target.data('ref') as string);
    this.tooltip.hidden = false;
    // Beside the pointer, inside the canvas: above it and to its left near the bottom and right edges.
    const width = this.tooltip.offsetWidth;
    const height = this.tooltip.offsetHeight;
    const x = at.x + 14 + width > this.canvas.clientWidth ? at.x - 14 - width : at.x + 14;
    const y = at.y + 14 + height > this.canvas.clientHeight ? at.y - 14 - height : at.y + 14;
    this.tooltip.style.left = `${Math.round(Math.max(0, x))}px`;
    this.tooltip.style.top = `${Math.round(Math.max(0, y))}px`;
  }

  private hideTooltip(): void {
    this.tooltip.hidden = true;
  }

  // --- context menu

  /** The actions the server runs on an element, as menu items (none over a recording, but inspect and capture). */
  private menuItems(kind: string, ref: string): MenuItem[] {
    const run = this.store.run;
    const topology = this.topology;
    if (!run || !topology) return [];
    const live = run.mode === 'live';
    const can = (action: string): boolean => live && run.actions.includes(action);
    const act = (record: Record<string, unknown>): (() => Promise<void>) => () => this.act(record);
    const items: MenuItem[] = [];
    const inspect = (selection: Parameters<Store['select']>[0]): MenuItem => ({ label: 'Inspect', id: 'inspect', run: () => this.store.select(selection) });
    const capture = (field: 'wire' | 'vnic', what: string): MenuItem => ({
      label: `Capture ${what} (${live ? 'live ' : ''}pcapng)`,
      id: `capture-${field}`,
      run: () => this.captures.start(field, what),
    });
    if (kind === 'wire') {
      const wire = topology.wires.find((w) => w.id === ref);
      items.push(inspect({ type: 'wire', id: ref }));
      if (can('link')) {
        const up = wire ? wireUp(this.store.lab, wire) : true;
        items.push(up ? { label: `Link ${ref} down`, id: 'link-down', danger: true, run: act({ action: 'link', wire: ref, state: 'down' }) } : { label: `Link ${ref} up`, id: 'link-up', run: act({ action: 'link', wire: ref, state: 'up' }) });
      }
      if (!window.dpulab) items.push(capture('wire', ref));
      return items;
    }
    if (kind === 'vm' || kind === 'ghost' || kind === 'vmotion') {
      items.push(inspect({ type: 'vm', id: ref }));
      const here = this.drawnIn(ref);
      if (can('vmotion') && migrationUnderWay(this.store.lab, ref) === null) {
        for (const host of topology.nodes.filter((n) => n.kind === 'host' && n.id !== here)) items.push({ label: `vMotion to ${host.id}`, id: `vmotion-${host.id}`, run: act({ action: 'vmotion', vm: ref, to: host.id }) });
      }
      const spec = topology.nodes.flatMap((n) => (n.kind === 'host' ? n.spec.vms : [])).find((v) => v.id === ref);
      if (!window.dpulab) for (const vnic of spec?.vnics ?? []) items.push(capture('vnic', vnic.id));
      return items;
    }
    if (kind === 'vnic') {
      items.push(inspect({ type: 'vnic', id: ref }));
      if (!window.dpulab) items.push(capture('vnic', ref));
      return items;
    }
    const node = topology.nodes.find((n) => n.id === ref);
    items.push(inspect({ type: 'node', id: ref }));
    if (node && can('dpu.failover')) {
      const host = node.kind === 'host' ? node.id : node.kind === 'dpu' ? node.spec.host : null;
      if (host) items.push({ label: `Fail over ${host}'s active DPU`, id: 'failover', run: act({ action: 'dpu.failover', host }) });
    }
    if (can('kill')) items.push({ label: `Kill ${ref}`, id: 'kill', danger: true, run: act({ action: 'kill', node: ref }) });
    if (can('restart')) items.push({ label: `Restart ${ref}`, id: 'restart', run: act({ action: 'restart', node: ref }) });
    return items;
  }

  private openMenu(kind: string, ref: string, at: { x: number; y: number }): void {
    this.hideTooltip();
    const items = this.menuItems(kind, ref);
    if (items.length === 0) return;
    const note = this.store.run?.mode === 'live' ? null : h('div', { class: 'menu-note muted' }, 'A recording: actions need a live run');
    replace(
      this.menu,
      h('div', { class: 'menu-title' }, ref),
      items.map((item) =>
        h(
          'button',
          {
            type: 'button',
            role: 'menuitem',
            class: item.danger ? 'menu-item danger' : 'menu-item',
            'data-action': item.id,
            onclick: () => {
              this.closeMenu();
              void item.run();
            },
          },
          item.label,
        ),
      ),
      note,
    );
    this.menu.setAttribute('data-for', ref);
    this.menu.setAttribute('data-kind', kind);
    this.menu.hidden = false;
    const width = this.canvas.clientWidth;
    const height = this.canvas.clientHeight;
    this.menu.style.left = `${Math.round(Math.min(at.x, Math.max(0, width - 240)))}px`;
    this.menu.style.top = `${Math.round(Math.min(at.y, Math.max(0, height - 40 * (items.length + 1))))}px`;
  }

  private closeMenu(): void {
    this.menu.hidden = true;
  }

  /** Sends an action from the menu; says when it was scheduled, or why it was refused. */
  private async act(record: Record<string, unknown>): Promise<void> {
    try {
      const answer = await api.action(record);
      this.toast.className = 'topology-toast ok';
      this.toast.textContent = `Scheduled ${record.action as string} at ${vtime(answer.scheduled.atNs)}`;
    } catch (error) {
      this.toast.className = 'topology-toast error';
      this.toast.textContent = error instanceof Error ? error.message : String(error);
    }
  }

  // --- packets along the wires

  /** Replay: a step forward (a few events) animates the frames it passed over. */
  private async stepped(): Promise<void> {
    // What the tooltip said was about another moment.
    this.hideTooltip();
    const cursor = this.store.cursor;
    const before = this.shownCursor;
    this.shownCursor = cursor;
    if (this.store.live || cursor === null || before === null) return;
    if (cursor <= before || cursor - before > MAX_STEP_EVENTS) {
      // A jump: the frames in flight belong to another moment.
      this.packets.clear();
      return;
    }
    const page = await api.events({ from: before + 1, to: cursor + 1, kind: ['frame.tx'], limit: MAX_PACKETS_PER_STEP });
    // Still there: a seek while the frames were fetched makes them another moment's.
    await this.animate(page.events.map((e) => e.seq), () => this.shownCursor === cursor);
  }

  /** Live: a paused run stepped one instant on; its frames are animated as they are streamed. */
  private async streamed(): Promise<void> {
    const tail = this.store.tail;
    const newest = tail[tail.length - 1]?.seq ?? -1;
    const before = this.seenSeq;
    this.seenSeq = Math.max(before, newest);
    // The first events streamed are history, not a step.
    if (!this.store.live || before < 0 || !this.store.status?.paused) return;
    const fresh = tail.filter((e) => e.seq > before);
    if (fresh.length === 0 || fresh.length > MAX_STEP_EVENTS) return;
    await this.animate(fresh.filter((e) => e.kind === 'frame.tx').slice(0, MAX_PACKETS_PER_STEP).map((e) => e.seq));
  }

  /** Sends a dot along the drawn path of each frame: its wire, a vNIC line for a guest's frame, host to DPU for pcie. */
  private async animate(seqs: readonly number[], current: () => boolean = () => true): Promise<void> {
    if (seqs.length === 0 || !current()) return;
    const frames = await Promise.all(seqs.map((seq) => api.frame(seq).catch(() => null)));
    if (!current()) return;
    const trips: PacketTrip[] = [];
    for (const frame of frames) {
      if (!frame) continue;
      const trip = this.tripOf(frame);
      if (trip) trips.push(trip);
    }
    this.packets.launch(trips);
  }

  private tripOf(frame: FrameResponse): PacketTrip | null {
    const cy = this.cy;
    const wire = this.topology?.wires.find((w) => w.id === frame.wire);
    if (!cy || !wire) return null;
    const forward = frame.dir !== 'b>a';
    const [from, to] = forward ? [wire.a.node, wire.b.node] : [wire.b.node, wire.a.node];
    const protocol = responseProtocol(frame);
    const base = { seq: frame.seq, wire: wire.id, from, to, protocol };
    if (wire.kind !== 'pcie') {
      const edge = cy.getElementById(id.wire(wire.id)) as cytoscape.EdgeSingular;
      if (edge.empty()) return null;
      return {
        ...base,
        path: () => {
          const a = edge.renderedSourceEndpoint();
          const b = edge.renderedTargetEndpoint();
          const via = edge.renderedMidpoint();
          return forward ? { from: a, via, to: b } : { from: b, via, to: a };
        },
      };
    }
    // Inside a host: a guest's frame runs along its vNIC line, anything else between host and DPU.
    const vnic = frame.message !== null && typeof frame.message === 'object' && typeof (frame.message as { vnic?: unknown }).vnic === 'string' ? (frame.message as { vnic: string }).vnic : null;
    const vnicEdge = vnic ? (cy.getElementById(id.vnic(vnic)) as cytoscape.EdgeSingular) : null;
    if (vnicEdge && vnicEdge.nonempty()) {
      // The vNIC line runs VM → DPU; the host is the pcie wire's a end.
      const toDpu = (from === wire.a.node) === (this.topology!.nodes.find((n) => n.id === wire.a.node)?.kind === 'host');
      return {
        ...base,
        from: toDpu ? vnic! : to,
        to: toDpu ? to : vnic!,
        path: () => {
          const a = vnicEdge.renderedSourceEndpoint();
          const b = vnicEdge.renderedTargetEndpoint();
          const via = { x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 };
          return toDpu ? { from: a, via, to: b } : { from: b, via, to: a };
        },
      };
    }
    const fromNode = cy.getElementById(id.node(from)) as cytoscape.NodeSingular;
    const toNode = cy.getElementById(id.node(to)) as cytoscape.NodeSingular;
    if (fromNode.empty() || toNode.empty()) return null;
    return {
      ...base,
      path: () => {
        const a = fromNode.renderedPosition();
        const b = toNode.renderedPosition();
        return { from: a, via: { x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 }, to: b };
      },
    };
  }
}

/** VMs on their way in, by destination host: migrations under way whose VM has not resumed there yet. */
function incoming(lab: ClusterState): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [vm, view] of Object.entries(lab.vms)) {
    if (!view.migration) continue;
    const migration = lab.migrations[view.migration];
    if (!migration || migration.endedAt !== null || view.host === migration.to) continue;
    out.set(migration.to, [...(out.get(migration.to) ?? []), vm].sort());
  }
  return out;
}
