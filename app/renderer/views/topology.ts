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
import { h, replace } from '../dom.js';
import { rate } from '../format.js';
import type { ClusterState } from '../../../shared/state/cluster-state.js';
import { migrationUnderWay } from '../../../shared/state/queries.js';
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
};

type HostNode = Extract<ResolvedTopology['nodes'][number], { kind: 'host' }>;
type VmSpec = HostNode['spec']['vms'][number];

/** Which VMs each host runs, in drawing order: its own (topology order), then visitors by id. */
export type Placement = ReadonlyMap<string, readonly VmSpec[]>;

/** Where every VM runs in `lab`: a vMotion moves a VM into its destination's box. */
export function placement(topology: ResolvedTopology, lab: ClusterState): Placement {
  return vmsByHost(lab, topology);
}

function placementKey(places: Placement): string {
  return [...places].map(([host, vms]) => `${host}:${vms.map((v) => v.id).join(',')}`).join(' ');
}

/** Positions: switches in a row on top, hosts below, each with its DPUs above the VMs it runs. */
function layout(topology: ResolvedTopology, places: Placement): Map<string, { x: number; y: number }> {
  const positions = new Map<string, { x: number; y: number }>();
  const switches = topology.nodes.filter((n) => n.kind === 'switch');
  const hosts = topology.nodes.filter((n): n is HostNode => n.kind === 'host');
  const widths = hosts.map((host) => Math.max(host.spec.dpus.length * 130, (places.get(host.id)?.length ?? 0) * 112, 260));
  const total = widths.reduce((a, b) => a + b, 0) + Math.max(0, hosts.length - 1) * 90;
  let x = -total / 2;
  hosts.forEach((host, i) => {
    const width = widths[i]!;
    const center = x + width / 2;
    const vms = places.get(host.id) ?? [];
    host.spec.dpus.forEach((dpu, j) => positions.set(id.node(dpu), { x: center + (j - (host.spec.dpus.length - 1) / 2) * 130, y: 250 }));
    vms.forEach((vm, j) => positions.set(id.vm(vm.id), { x: center + (j - (vms.length - 1) / 2) * 112, y: 390 }));
    x += width + 90;
  });
  const spread = Math.max(total / Math.max(1, switches.length), 300);
  switches.forEach((s, i) => positions.set(id.node(s.id), { x: (i - (switches.length - 1) / 2) * spread * 0.75, y: 20 }));
  return positions;
}

function elements(topology: ResolvedTopology, places: Placement, positions: Map<string, { x: number; y: number }>): ElementDefinition[] {
  const out: ElementDefinition[] = [];
  for (const node of topology.nodes) {
    if (node.kind === 'host') {
      out.push({ group: 'nodes', data: { id: id.node(node.id), kind: 'host', ref: node.id, label: `${node.id}  ·  ${node.spec.x86Cores} x86 cores` }, classes: 'host' });
      for (const vm of places.get(node.id) ?? []) {
        out.push({ group: 'nodes', data: { id: id.vm(vm.id), parent: id.node(node.id), kind: 'vm', ref: vm.id, label: vm.id, color: MODE_COLORS.unknown }, position: positions.get(id.vm(vm.id))!, classes: 'vm' });
      }
    }
  }
  for (const node of topology.nodes) {
    if (node.kind === 'dpu') {
      out.push({ group: 'nodes', data: { id: id.node(node.id), parent: id.node(node.spec.host), kind: 'dpu', ref: node.id, label: node.id, color: CONDITION_COLORS['not-started'] }, position: positions.get(id.node(node.id))!, classes: 'dpu' });
    } else if (node.kind === 'switch') {
      out.push({ group: 'nodes', data: { id: id.node(node.id), kind: 'switch', ref: node.id, label: node.id, color: CONDITION_COLORS['not-started'] }, position: positions.get(id.node(node.id))!, classes: 'switch' });
    }
  }
  for (const wire of topology.wires) {
    if (wire.kind !== 'ethernet') continue;
    out.push({ group: 'edges', data: { id: id.wire(wire.id), source: id.node(wire.a.node), target: id.node(wire.b.node), kind: 'wire', ref: wire.id, label: '', width: 2, color: '#51637a' }, classes: 'wire' });
  }
  return out;
}

const STYLE: cytoscape.StylesheetJson = [
  { selector: 'node', style: { label: 'data(label)', color: '#e2e8f0', 'font-size': 11, 'font-family': 'Inter, system-ui, sans-serif', 'text-valign': 'center', 'text-halign': 'center', 'text-wrap': 'wrap' } },
  {
    selector: 'node.host',
    style: {
      shape: 'round-rectangle',
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
      padding: '22px',
    },
  },
  { selector: 'node.dpu', style: { shape: 'round-rectangle', width: 104, height: 42, 'background-color': 'data(color)', 'border-width': 0, 'font-weight': 600 } },
  { selector: 'node.vm', style: { shape: 'round-rectangle', width: 92, height: 34, 'background-color': '#0f1b2a', 'border-width': 2, 'border-color': 'data(color)', color: '#e2e8f0' } },
  { selector: 'node.switch', style: { shape: 'round-rectangle', width: 130, height: 40, 'background-color': 'data(color)', 'border-width': 1, 'border-color': '#64748b', 'font-weight': 600 } },
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
    },
  },
  { selector: 'edge.wire.down', style: { 'line-style': 'dashed', 'line-dash-pattern': [6, 4] } },
  { selector: 'edge.wire.blocked', style: { 'line-style': 'dotted', opacity: 0.5 } },
  { selector: 'edge.vnic', style: { width: 2, 'line-color': 'data(color)', 'curve-style': 'straight', 'target-arrow-shape': 'none', opacity: 0.9 } },
  { selector: 'edge.vnic.mux', style: { 'line-style': 'dashed' } },
  { selector: 'edge.vnic.emulated', style: { 'line-style': 'dotted', width: 2.5 } },
  { selector: 'edge.vnic.broken', style: { 'line-color': '#d23f3f', 'line-style': 'dashed', opacity: 0.6 } },
  { selector: ':selected', style: { 'overlay-color': '#38bdf8', 'overlay-opacity': 0.18, 'overlay-padding': 6 } },
  { selector: 'node.vm.draggable', style: { 'border-style': 'double' } },
  { selector: 'node.vm.migrating', style: { 'border-style': 'dashed', 'border-width': 3, height: 48 } },
];

/** The topology view. */
export class TopologyView {
  private cy: Core | null = null;
  private topology: ResolvedTopology | null = null;
  /** Where the graph draws each VM, and the positions that go with it. */
  private places: Placement = new Map();
  private placesKey = '';
  private positions = new Map<string, { x: number; y: number }>();
  private readonly canvas: HTMLElement;
  private readonly mirror: HTMLElement;

  constructor(
    private readonly root: HTMLElement,
    private readonly store: Store,
    private readonly onVmotion: (vm: string, to: string) => void,
  ) {
    this.canvas = h('div', { class: 'topology-canvas', 'aria-hidden': 'true' });
    this.mirror = h('ul', { id: 'topology-elements', class: 'sr-only', 'aria-label': 'Topology elements' });
    replace(root, this.legend(), this.canvas, this.mirror);
    store.on('run', () => this.build());
    store.on('lab', () => this.update());
    store.on('status', () => this.update());
    store.on('selection', () => this.highlight());
    new ResizeObserver(() => {
      this.cy?.resize();
      this.cy?.fit(undefined, 24);
    }).observe(this.canvas);
  }

  private legend(): HTMLElement {
    const item = (color: string, text: string, shape = 'dot'): HTMLElement => h('span', { class: `legend-item legend-${shape}` }, h('i', { style: `background:${color}` }), text);
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
    );
  }

  private build(): void {
    const run = this.store.run;
    if (!run || this.topology === run.topology) return;
    this.topology = run.topology;
    this.cy?.destroy();
    this.places = placement(run.topology, this.store.lab);
    this.placesKey = placementKey(this.places);
    this.positions = layout(run.topology, this.places);
    const canDrag = run.actions.includes('vmotion');
    const cy = cytoscape({
      container: this.canvas,
      elements: elements(run.topology, this.places, this.positions),
      style: STYLE,
      layout: { name: 'preset', padding: 24 },
      minZoom: 0.3,
      maxZoom: 2.5,
      boxSelectionEnabled: false,
      autoungrabify: !canDrag,
    });
    this.cy = cy;
    cy.nodes('.dpu, .switch, .host').ungrabify();
    if (canDrag) cy.nodes('.vm').addClass('draggable');
    cy.on('tap', 'node, edge', (event) => {
      const target = event.target as cytoscape.SingularElementArgument;
      const kind = target.data('kind') as string;
      const ref = target.data('ref') as string;
      if (kind === 'vm') this.store.select({ type: 'vm', id: ref });
      else if (kind === 'wire') this.store.select({ type: 'wire', id: ref });
      else if (kind === 'vnic') this.store.select({ type: 'vnic', id: ref });
      else this.store.select({ type: 'node', id: ref });
    });
    cy.on('tap', (event) => {
      if (event.target === cy) this.store.select(null);
    });
    // vMotion by dragging a VM onto another host (only when the server knows the action). The VM
    // goes back to its place at once: it moves when the lab state says it runs elsewhere.
    cy.on('free', 'node.vm', (event) => {
      const vm = event.target as NodeSingular;
      const position = vm.position();
      const from = vm.parent().first();
      const to = cy.nodes('.host').filter((host) => {
        const box = host.boundingBox({});
        return host.id() !== from.id() && position.x >= box.x1 && position.x <= box.x2 && position.y >= box.y1 && position.y <= box.y2;
      });
      const dropped = to.first();
      const home = this.positions.get(vm.id());
      if (home) vm.position(home);
      if (dropped.nonempty()) this.onVmotion(vm.data('ref') as string, dropped.data('ref') as string);
    });
    this.update();
    cy.fit(undefined, 24);
    cy.on('viewport resize', () => this.placeMirror());
  }

  /** Moves VM nodes into the box of the host they run on now (and back, when a replay seeks back). */
  private place(cy: Core, topology: ResolvedTopology, lab: ClusterState): boolean {
    const places = placement(topology, lab);
    const key = placementKey(places);
    if (key === this.placesKey) return false;
    this.places = places;
    this.placesKey = key;
    this.positions = layout(topology, places);
    for (const [host, vms] of places) {
      for (const vm of vms) {
        const node = cy.getElementById(id.vm(vm.id));
        if (node.nonempty() && node.parent().first().id() !== id.node(host)) node.move({ parent: id.node(host) });
      }
    }
    for (const [key, position] of this.positions) cy.getElementById(key).position(position);
    cy.fit(undefined, 24);
    return true;
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
    // Outside the batch: a node moved to another parent inside one leaves its re-targeted edges unstyled.
    const moved = this.place(cy, topology, lab);
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
            const element = cy.getElementById(id.vm(vm.id));
            // The host the graph draws it in, which is what a person sees.
            const drawnIn = (element.parent().first().data('ref') as string | undefined) ?? '';
            element.data({ color, label: `${vm.id}\n${mode === 'unknown' ? '' : mode}${migration ? `\n→ ${migration.to}` : ''}` });
            element.toggleClass('migrating', migration !== null);
            const where = migration ? `, vMotion to ${migration.to}: ${migration.phase}` : '';
            mirror.push(
              h(
                'li',
                { 'data-id': vm.id, 'data-kind': 'vm', 'data-state': mode, 'data-color': color, 'data-host': drawnIn, 'data-vmotion': migration?.phase ?? '' },
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
              edge.classes(['vnic', vnicMode, broken ? 'broken' : ''].filter(Boolean).join(' '));
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
        if (wire.kind !== 'ethernet') continue;
        const up = wireUp(lab, wire);
        const load = up ? wireLoad(lab, wire.id, now) : 0;
        const width = up ? Math.min(9, 2 + Math.log10(1 + load) * 1.8) : 2;
        const color = !up ? '#ef4444' : load > 0 ? '#38bdf8' : '#51637a';
        const edge = cy.getElementById(id.wire(wire.id));
        edge.data({ width, color, label: up && load > 0 ? `${rate(load)} f/s` : '' });
        edge.toggleClass('down', !up);
        edge.toggleClass('blocked', up && [wire.a, wire.b].some((end) => lab.ports[`${end.node}:${end.port}`]?.blocked === true));
        mirror.push(h('li', { 'data-id': wire.id, 'data-kind': 'wire', 'data-state': up ? 'up' : 'down', 'data-load': Math.round(load) }, `${wire.id}: ${up ? 'up' : 'down'}, ${Math.round(load)} frames/s`));
      }
    });
    replace(this.mirror, mirror);
    this.placeMirror();
    if (moved) this.highlight();
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
        // A host's centre is covered by its children and cables: point into its bottom-left margin.
        const box = element.renderedBoundingBox({ includeLabels: false });
        point = { x: box.x1 + 10, y: box.y2 - 8 };
        // Its box too, so a drop target and what it holds can be told from outside the canvas.
        li.setAttribute('data-box', [box.x1, box.y1, box.x2, box.y2].map((v) => Math.round(v)).join(' '));
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
}
