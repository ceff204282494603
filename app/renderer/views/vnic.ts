/// <reference lib="dom" />
/**
 * A vNIC seen from both sides: what the guest's vmxnet3 driver believes (its rings, generation
 * bits, MAC, link, filters) next to the device actually serving it (the virtual function on the
 * DPU that serves it for UPTv2, the host's emulated backend otherwise), and the mismatches
 * `compareViews` finds. Which device serves it comes from the cluster state (`vnicStateView`).
 */
import { compareViews, formatPosition, lag, macFromRegisters, type DeviceCommandRing, type RingState, type Vmxnet3DeviceState, type Vmxnet3DriverView } from '../../../shared/vmxnet3/index.js';
import { api } from '../api.js';
import { h, keyValues, pill, section, table, type Child } from '../dom.js';
import { hex32 } from '../format.js';
import { nodeCondition, servingText, vnicStateView, type VnicStateView } from '../../../shared/state/node-view.js';
import type { Store } from '../store.js';

type Any = Record<string, unknown>;

function get(value: unknown, ...path: Array<string | number>): unknown {
  let v = value;
  for (const key of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Any)[key as string];
  }
  return v;
}

function position(value: unknown): string {
  if (value === null || typeof value !== 'object') return '-';
  const p = value as { next?: unknown; gen?: unknown };
  return `${String(p.next)} · gen ${String(p.gen)}`;
}

/** A row of the comparison: the same thing on both sides, marked when they differ. */
function row(label: string, guest: string, device: string, compare = true): HTMLTableRowElement {
  const differs = compare && guest !== device && guest !== '-' && device !== '-';
  return h('tr', { class: differs ? 'differs' : '' }, h('th', {}, label), h('td', {}, guest), h('td', {}, device));
}

/** The guest driver and the device side by side. */
export function sideBySide(driver: unknown, device: unknown, deviceName: string): HTMLElement {
  const rows: HTMLTableRowElement[] = [];
  const deviceMac = typeof get(device, 'registers', 'macl') === 'number' ? macFromRegisters(get(device, 'registers', 'macl') as number, get(device, 'registers', 'mach') as number) : '-';
  rows.push(row('status', get(driver, 'active') ? 'active' : get(driver, 'probed') ? 'probed' : 'absent', String(get(device, 'status') ?? '-'), false));
  rows.push(row('MAC', String(get(driver, 'mac') ?? '-'), deviceMac));
  rows.push(row('link', hex32(get(driver, 'link')), hex32(get(device, 'link'))));
  rows.push(row('MTU', String(get(driver, 'shared', 'mtu') ?? '-'), String(get(device, 'config', 'mtu') ?? '-')));
  rows.push(row('features', hex32(get(driver, 'shared', 'features')), hex32(get(device, 'config', 'features'))));
  rows.push(row('RX mode', hex32(get(driver, 'shared', 'rxFilter', 'rxMode')), hex32(get(device, 'config', 'rxMode'))));
  const driverTx = (get(driver, 'txQueues') as unknown[] | undefined) ?? [];
  const deviceTx = (get(device, 'txQueues') as unknown[] | undefined) ?? [];
  for (let q = 0; q < Math.max(driverTx.length, deviceTx.length); q++) {
    const d = driverTx[q];
    const v = deviceTx[q];
    rows.push(h('tr', { class: 'group' }, h('th', { colspan: '3' }, `TX queue ${q} (ring size ${String(get(d, 'txRing', 'size') ?? get(v, 'txRing', 'size') ?? '?')})`)));
    rows.push(row('tx ring: producer', position(get(d, 'txRing')), position(get(v, 'txRing', 'produced'))));
    rows.push(row('tx ring: device consumer', '-', position(get(v, 'txRing')), false));
    rows.push(row('tx: reclaimed / completed', position(get(d, 'txRing', 'reclaimed')), position(get(v, 'completed')), false));
    rows.push(row('tx completion ring', position(get(d, 'compRing')), position(get(v, 'compRing')), false));
  }
  const driverRx = (get(driver, 'rxQueues') as unknown[] | undefined) ?? [];
  const deviceRx = (get(device, 'rxQueues') as unknown[] | undefined) ?? [];
  for (let q = 0; q < Math.max(driverRx.length, deviceRx.length); q++) {
    const d = driverRx[q];
    const v = deviceRx[q];
    rows.push(h('tr', { class: 'group' }, h('th', { colspan: '3' }, `RX queue ${q}`)));
    for (const ring of ['ring1', 'ring2'] as const) {
      rows.push(row(`${ring}: producer`, position(get(d, ring)), position(get(v, ring, 'produced'))));
      rows.push(row(`${ring}: reclaimed / consumer`, position(get(d, ring, 'reclaimed')), position(get(v, ring)), false));
    }
    rows.push(row('rx completion ring', position(get(d, 'compRing')), position(get(v, 'compRing')), false));
  }
  return h(
    'table',
    { class: 'compare' },
    h('thead', {}, h('tr', {}, h('th', {}, ''), h('th', {}, 'guest driver believes'), h('th', {}, deviceName))),
    h('tbody', {}, rows),
  );
}

function registers(device: unknown): HTMLElement {
  const regs = (get(device, 'registers') as Any | undefined) ?? {};
  const rows: Array<[string, Child]> = Object.entries(regs)
    .filter(([, v]) => typeof v === 'number')
    .map(([k, v]) => [k.toUpperCase(), h('code', {}, hex32(v))]);
  const interrupts = get(device, 'interrupts') as Any | undefined;
  if (interrupts) rows.push(['interrupts', `mask ${hex32(interrupts.mask)} pending ${hex32(interrupts.pending)} fired ${String(interrupts.fired)}`]);
  return keyValues(rows, 'kv registers');
}

/**
 * Doorbells the guest rang that the device has not received: producer positions where the device
 * lags the guest. Between two instants of a run (a pause) they are messages on the pcie wire, so
 * the comparison is made as if they had arrived, and they are listed instead of counted as
 * mismatches. Anything they do not explain is still a mismatch.
 */
function doorbellsOnTheirWay(driver: Vmxnet3DriverView, device: Vmxnet3DeviceState): { device: Vmxnet3DeviceState; pending: string[] } {
  const copy = structuredClone(device);
  const pending: string[] = [];
  const catchUp = (what: string, guest: RingState, ring: DeviceCommandRing): void => {
    if (guest.size !== ring.size) return;
    const behind = lag(ring.produced, guest, guest.size);
    if (behind === null || behind === 0 || behind >= guest.size) return;
    pending.push(`${what}: the guest announced up to ${formatPosition(guest)}, the device has heard up to ${formatPosition(ring.produced)}`);
    ring.produced = { next: guest.next, gen: guest.gen };
  };
  driver.txQueues.forEach((q, i) => {
    const ring = copy.txQueues[i]?.txRing;
    if (ring) catchUp(`TX queue ${i}`, q.txRing, ring);
  });
  driver.rxQueues.forEach((q, i) => {
    const device = copy.rxQueues[i];
    if (!device) return;
    catchUp(`RX queue ${i} ring 1`, q.ring1, device.ring1);
    catchUp(`RX queue ${i} ring 2`, q.ring2, device.ring2);
  });
  return { device: copy, pending };
}

function verdict(driver: unknown, device: unknown): HTMLElement {
  let problems: string[];
  let pending: string[] = [];
  try {
    const onTheirWay = doorbellsOnTheirWay(driver as Vmxnet3DriverView, device as Vmxnet3DeviceState);
    pending = onTheirWay.pending;
    problems = compareViews(driver as Vmxnet3DriverView, onTheirWay.device);
  } catch (error) {
    problems = [`Could not compare: ${error instanceof Error ? error.message : String(error)}`];
  }
  const inFlight =
    pending.length === 0
      ? null
      : h('div', { class: 'in-flight' }, h('p', { class: 'muted' }, `${pending.length} doorbell${pending.length === 1 ? '' : 's'} rung by the guest and not yet received by the device (on the pcie wire):`), h('ul', {}, pending.map((p) => h('li', {}, p))));
  if (problems.length === 0) return h('div', { class: 'verdict ok', 'data-mismatches': '0', 'data-in-flight': pending.length }, h('p', {}, '✓ The guest cannot tell: its view is consistent with the device'), inFlight);
  return h(
    'div',
    { class: 'verdict bad', 'data-mismatches': problems.length, 'data-in-flight': pending.length },
    h('p', {}, `${problems.length} mismatch${problems.length === 1 ? '' : 'es'} (the two sides are inspected one after the other: while the run goes on, a frame in flight can show here)`),
    h('ul', {}, problems.map((p) => h('li', {}, p))),
    inFlight,
  );
}

/** Where the vNIC is served from, in the cluster state's words (tests and tools read the `data-*`). */
function servingLine(view: VnicStateView): HTMLElement {
  const s = view.serving;
  return h(
    'p',
    { class: 'vnic-serving', 'data-vnic': view.vnic, 'data-host': view.host, 'data-dpu': s.dpu ?? '', 'data-device': s.device, 'data-vf': s.vf ?? '' },
    `Served by ${servingText(view)}${view.disconnected ? `, disconnected: ${view.disconnected}` : ''}`,
  );
}

/**
 * The vNIC inspector: the device serving it from the cluster state; live, the guest driver's
 * view next to that very device (the VF on its DPU, or the host's emulated backend), as the host
 * reports it at the same moment as the driver.
 */
export async function vnicView(store: Store, vnic: string): Promise<HTMLElement> {
  const run = store.run!;
  const view = vnicStateView(store.lab, run.topology, vnic);
  if (view === null) return h('p', { class: 'empty' }, `No vNIC ${vnic}`);
  const spec = run.topology.nodes.flatMap((n) => (n.kind === 'host' ? n.spec.vms.flatMap((vm) => vm.vnics) : [])).find((x) => x.id === vnic)!;
  // The host that runs it now: a vMotion takes the vNIC along.
  const host = view.host;
  const header = keyValues([
    ['vNIC', `${vnic} (${spec.mac})`],
    ['host', host],
    ['segment', `${spec.segment}  ${spec.ipv4}${spec.ipv6 ? `  ${spec.ipv6}` : ''}`],
    ['mode', view.active ? [pill(view.active, `mode-${view.active}`), view.requested !== view.active ? ` asked ${view.requested}: ${view.reason ?? ''}` : ''] : spec.mode],
  ]);
  const serving = servingLine(view);
  const at = store.cursor ?? undefined;
  const hostInfo = await api.inspect(host, at);
  if (hostInfo.source === 'log' || hostInfo.live === null) {
    // Every VF that served it as the log tells: the one serving it now, and those of DPUs it left (a dead DPU's last word stands).
    const vfs = Object.entries(store.lab.vfs).flatMap(([node, vfs]) =>
      Object.values(vfs)
        .filter((v) => v.vnic === vnic)
        .map((v) => {
          const now = view.serving.device === 'vf' && view.serving.dpu === node && view.serving.vf === v.vf;
          const condition = nodeCondition(store.lab, run.topology, node);
          return [`${node}${condition === 'failed' ? ' (failed)' : ''}`, `vf ${v.vf}`, v.state, v.via, now ? 'serves it' : ''] as Child[];
        }),
    );
    return h('div', { class: 'vnic-view' }, header, serving, section('Virtual functions', table(['DPU', 'VF', 'VFIO state', 'via', ''], vfs, 'no VF events for this vNIC')), h('p', { class: 'muted' }, 'Ring and register state needs a live run: a recording keeps events, not device memory.'));
  }
  const entries = (get(hostInfo.live, 'core', 'datapath', 'vnics') as Any[] | undefined) ?? [];
  const entry = entries.find((e) => e.vnic === vnic);
  if (!entry) return h('div', { class: 'vnic-view' }, header, serving, h('p', { class: 'empty' }, `${host} does not report ${vnic}`));
  // The host's own account of the device serving the guest, taken with the driver's view: the
  // state the page holds may be a moment older while the run goes on.
  const onVf = entry.serving === 'vf';
  const liveDpu = typeof entry.dpu === 'string' ? entry.dpu : null;
  const liveVf = typeof entry.vf === 'number' ? entry.vf : null;
  const notes: HTMLElement[] = [];
  if (onVf !== (view.serving.device === 'vf') || liveDpu !== view.serving.dpu || (onVf && liveVf !== view.serving.vf)) {
    notes.push(h('p', { class: 'muted' }, `${host} reports ${onVf ? `${liveDpu ?? '?'} VF ${liveVf ?? '?'}` : `its emulated backend via ${liveDpu ?? 'no DPU'}`} now; the state above is at event ${store.lab.seq}`));
  }
  let device: unknown = entry.backend;
  let deviceName = `host ${host} emulated backend`;
  if (onVf) {
    const dpuInfo = liveDpu === null ? null : await api.inspect(liveDpu);
    const functions = (get(dpuInfo?.live, 'core', 'datapath', 'vnicPorts', 'pool', 'functions') as Any[] | undefined) ?? [];
    const fn = functions.find((f) => f.vnic === vnic && (liveVf === null || f.vf === liveVf));
    if (!fn) {
      // Never compare with the backend a VF has taken over from: it is stale by design.
      return h('div', { class: 'vnic-view' }, header, serving, notes, h('p', { class: 'empty' }, `${liveDpu ?? 'The DPU'} does not report the VF serving ${vnic}`));
    }
    device = fn.device;
    deviceName = `${liveDpu} VF ${String(fn.vf)} (${String(fn.state)})`;
  }
  const counters = (entry.counters as Any | undefined) ?? {};
  return h(
    'div',
    { class: 'vnic-view' },
    header,
    serving,
    notes,
    keyValues([
      ['serving', `${String(entry.serving)}${entry.vf !== null && entry.vf !== undefined ? ` (VF ${String(entry.vf)})` : ''}, phase ${String(entry.phase)}`],
      ['traffic', `tx ${String(counters.txFrames ?? 0)} frames, rx ${String(counters.rxFrames ?? 0)} frames, violations ${String(counters.violations ?? 0)}`],
    ]),
    section('Guest driver and device', h('div', { class: 'compared', 'data-device': deviceName }, sideBySide(entry.driver, device, deviceName), verdict(entry.driver, device))),
    section(`Device registers (${deviceName})`, registers(device)),
  );
}
