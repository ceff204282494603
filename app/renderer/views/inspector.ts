/// <reference lib="dom" />
/**
 * The inspector: whatever is selected, in detail. A node live is asked for its own state
 * (`/api/inspect`); in a recording, the state rebuilt from the log up to the cursor. A VM shows
 * its vNICs from both sides, a wire its ends and load, an event its payload and, for a frame,
 * every layer.
 *
 * Roles and serving devices always come from the cluster state (the fold every view reads), live
 * or not, in the same words: a DPU's role as its host gives it and as the DPU runs it, each vNIC's
 * serving device. So the DPU, host, VM and vNIC inspectors, the topology and the report agree.
 */
import type { InspectResponse } from '../../common/protocol.js';
import { api } from '../api.js';
import { h, keyValues, pill, replace, section, table, type Attrs, type Child } from '../dom.js';
import { duration, eventSummary, rate, vtime } from '../format.js';
import type { ClusterEvent, MigrationView, VmotionPhase } from '../../../shared/state/cluster-state.js';
import { lastMigration, migrationUnderWay, vmHostOf } from '../../../shared/state/queries.js';
import { nodeCondition, servingText, wireLoad, wireUp, type DpuRoleView, type NodeStateView, type VnicStateView } from '../../../shared/state/node-view.js';
import type { Store } from '../store.js';
import { frameView } from './frame.js';
import { vnicView } from './vnic.js';

type Any = Record<string, unknown>;

function get(value: unknown, ...path: string[]): unknown {
  let v = value;
  for (const key of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Any)[key];
  }
  return v;
}

function list(value: unknown): Any[] {
  return Array.isArray(value) ? (value as Any[]) : [];
}

function text(value: unknown): string {
  if (value === null || value === undefined) return '-';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

const CONDITION_TONES: Record<string, string> = { up: 'ok', active: 'ok', standby: 'info', unavailable: 'warn', failed: 'bad', stopped: 'muted', 'not-started': 'muted' };

function rawJson(title: string, value: unknown): HTMLElement {
  return h('details', { class: 'raw', 'data-key': `raw:${title}` }, h('summary', {}, title), h('pre', {}, JSON.stringify(value, null, 2)));
}

function ruleService(rule: unknown): string {
  const service = get(rule, 'service') as Any | undefined;
  if (!service) return '-';
  const ports = list(service.destinationPorts).map((p) => (p.from === p.to ? String(p.from) : `${String(p.from)}-${String(p.to)}`));
  return `${text(service.protocol)}${ports.length ? `/${ports.join(',')}` : ''}`;
}

function terms(value: unknown): string {
  return Array.isArray(value) ? value.join(', ') : text(value);
}

function costSection(cost: unknown, coreType: string): HTMLElement | null {
  if (!cost || typeof cost !== 'object') return null;
  const steps = Object.entries((get(cost, 'byStep') as Record<string, Any> | undefined) ?? {});
  const modes = Object.entries((get(cost, 'byMode') as Record<string, Any> | undefined) ?? {});
  return section(
    `Networking cost (${coreType} cores)`,
    keyValues([
      ['CPU time', `${text(get(cost, 'totalCpuNs'))} ns`],
      ['by mode', modes.map(([m, v]) => `${m} ${text(v.cpuNs)} ns`).join(', ') || '-'],
    ]),
    table(['step', 'CPU ns', 'frames'], steps.map(([s, v]) => [s, text(v.cpuNs), text(v.frames)]), 'no frames handled yet'),
  );
}

function lldpTable(entries: Any[]): HTMLElement {
  return table(['port', 'neighbour', 'its port', 'chassis'], entries.map((n) => [text(n.port), text(n.systemName), text(n.portId), h('code', {}, text(n.chassisId))]), 'no LLDP neighbours');
}

function portsTable(ports: Any[]): HTMLElement {
  return table(['port', 'wire', 'link', 'tx frames', 'tx bytes', 'drops'], ports.map((p) => [text(p.port), text(p.wire), p.up ? pill('up', 'ok') : pill('down', 'bad'), text(p.txFrames), text(p.txBytes), text(p.drops)]));
}

/** A table whose rows carry attributes (the tests and tools read `data-*`). */
function rowTable(headers: string[], rows: Array<{ attrs: Attrs; cells: Array<Child | Child[]> }>, empty = 'none'): HTMLElement {
  if (rows.length === 0) return h('p', { class: 'empty' }, empty);
  return h(
    'table',
    { class: 'grid' },
    h('thead', {}, h('tr', {}, headers.map((t) => h('th', {}, t)))),
    h('tbody', {}, rows.map((row) => h('tr', row.attrs, row.cells.map((c) => h('td', {}, ...(Array.isArray(c) ? c : [c])))))),
  );
}

function rolePill(role: string | null): HTMLElement {
  return pill(role ?? '-', role === 'active' ? 'ok' : role === 'standby' ? 'info' : 'muted');
}

/** A DPU's role and health, the same words wherever a DPU shows. */
function dpuRoleSection(role: DpuRoleView): HTMLElement {
  const rows: Array<[string, Child | Child[]]> = [
    ['role', [rolePill(role.role), ` given by ${role.host}${role.roleReason ? ` (${role.roleReason})` : ''}${role.roleSince > 0 ? ` at ${vtime(role.roleSince)}` : ''}`]],
    ['its own account', role.ownRole ?? (role.condition === 'failed' ? 'nothing: its process is not running' : '-')],
    ['host sees', role.state ? `${role.state}${role.reason ? ` (${role.reason})` : ''}` : '-'],
    ['heartbeat misses', String(role.misses)],
  ];
  if (role.failure) rows.push(['last failure', `${role.failure.reason} at ${vtime(role.failure.at)}, ${role.failure.to ?? 'no DPU'} took over`]);
  return section('High availability', h('div', { class: 'dpu-role', 'data-dpu': role.dpu, 'data-role': role.role ?? '', 'data-own-role': role.ownRole ?? '', 'data-condition': role.condition }, keyValues(rows)));
}

/** A host's DPUs with their roles; `live` adds what the host's heartbeat agent measures now. */
function hostDpusSection(dpus: readonly DpuRoleView[], live: unknown = null): HTMLElement {
  const measured = new Map(list(get(live, 'core', 'dpus')).map((d) => [text(d.dpu), d]));
  return section(
    'DPUs',
    rowTable(
      ['DPU', 'role', 'its own', 'state', 'misses', ...(live ? ['RTT'] : [])],
      dpus.map((d) => {
        const m = measured.get(d.dpu);
        return {
          attrs: { 'data-dpu': d.dpu, 'data-role': d.role ?? '', 'data-own-role': d.ownRole ?? '', 'data-condition': d.condition },
          cells: [d.dpu, rolePill(d.role), d.ownRole ?? '-', d.state ? pill(d.state, d.state === 'MANAGED' ? 'ok' : 'bad') : '-', String(d.misses), ...(live ? [m && m.lastRttNs !== null && m.lastRttNs !== undefined ? duration(Number(m.lastRttNs)) : '-'] : [])],
        };
      }),
    ),
  );
}

/** A host's vNICs with their mode and serving device; `live` adds the traffic counters. */
function hostVnicsSection(store: Store, vnics: readonly VnicStateView[], live: unknown = null): HTMLElement {
  const measured = new Map(list(get(live, 'core', 'datapath', 'vnics')).map((v) => [text(v.vnic), v]));
  const vnicButton = (id: string): HTMLElement => h('button', { class: 'link', onclick: () => store.select({ type: 'vnic', id }) }, id);
  return section(
    'vNICs',
    rowTable(
      ['vNIC', 'asked', 'runs', 'served by', ...(live ? ['tx', 'rx'] : [])],
      vnics.map((v) => {
        const m = measured.get(v.vnic);
        return {
          attrs: { 'data-vnic': v.vnic, 'data-dpu': v.serving.dpu ?? '', 'data-device': v.serving.device, 'data-vf': v.serving.vf ?? '' },
          cells: [
            vnicButton(v.vnic),
            v.requested || '-',
            v.active ? [pill(v.active, `mode-${v.active}`), v.reason ? h('span', { class: 'muted' }, ` ${v.reason}`) : null] : '-',
            [servingText(v), v.disconnected ? h('span', { class: 'muted' }, ` disconnected: ${v.disconnected}`) : null],
            ...(live ? [text(get(m, 'counters', 'txFrames')), text(get(m, 'counters', 'rxFrames'))] : []),
          ],
        };
      }),
      'no vNICs',
    ),
  );
}

/** A host as it reports itself, its DPUs and vNICs as the cluster state tells them. */
function hostLive(store: Store, live: unknown, log: NodeStateView | null): HTMLElement[] {
  const core = get(live, 'core');
  const datapath = get(core, 'datapath');
  return [
    log?.host ? hostDpusSection(log.host.dpus, live) : null,
    log?.host ? hostVnicsSection(store, log.host.vnics, live) : null,
    section(
      'Guest TCP connections',
      table(
        ['VM', 'flow', 'state', 'local', 'remote', 'sRTT', 'retrans'],
        list(get(datapath, 'guests')).flatMap((g) => list(g.tcp).map((c) => [text(g.vm), text(c.flow), text(c.state), `${text(c.localIp)}:${text(c.localPort)}`, `${text(c.remoteIp)}:${text(c.remotePort)}`, c.srttNs ? duration(Number(c.srttNs)) : '-', text(get(c, 'counters', 'retransmits'))])),
        'no TCP connections',
      ),
    ),
    section('Ports', portsTable(list(get(live, 'ports')))),
    costSection(get(datapath, 'cost'), 'x86'),
  ].filter((x): x is HTMLElement => x !== null);
}

/** A DPU as it reports itself, its role as the cluster state tells it. */
function dpuLive(live: unknown, log: NodeStateView | null): HTMLElement[] {
  const core = get(live, 'core');
  const datapath = get(core, 'datapath');
  const sw = get(datapath, 'switch');
  const fw = get(datapath, 'firewall');
  const counters = new Map(list(get(fw, 'ruleCounters')).map((c) => [text(c.rule), c]));
  const macTables = Object.entries((get(sw, 'macTables') as Record<string, Any[]> | undefined) ?? {});
  const pool = get(datapath, 'vnicPorts', 'pool');
  return [
    log?.dpu ? dpuRoleSection(log.dpu.role) : null,
    keyValues([
      ['model', `${text(get(core, 'model'))}, ${text(get(core, 'armCores'))} Arm cores`],
      ['tunnel endpoint', `${text(get(sw, 'tep', 'ip'))} (${text(get(sw, 'tep', 'mac'))})`],
      ['active uplink', text(get(sw, 'activeUplink'))],
    ]),
    section('Uplinks and LLDP', lldpTable(list(get(core, 'lldp')))),
    section(
      `Distributed firewall (generation ${text(get(fw, 'generation'))})`,
      table(
        ['rule', 'prio', 'action', 'from → to', 'service', 'hits', 'packets', 'bytes'],
        list(get(fw, 'rules')).map((r) => {
          const c = counters.get(text(r.id));
          return [h('code', {}, text(r.id)), r.priority === Number.MAX_SAFE_INTEGER ? 'last' : text(r.priority), pill(text(r.action), r.action === 'allow' ? 'ok' : 'bad'), `${terms(r.sources)} → ${terms(r.destinations)}`, ruleService(r), text(c?.hits), text(c?.packets), text(c?.bytes)];
        }),
      ),
    ),
    section(
      'Connection table',
      table(
        ['vNIC', 'connection', 'dir', 'state', 'rule', 'packets'],
        list(get(fw, 'connections')).map((c) => [text(c.vnic), h('code', {}, text(c.key)), text(c.direction), text(c.state), text(c.ruleId), `${text(get(c, 'orig', 'packets'))} / ${text(get(c, 'reply', 'packets'))}`]),
        'no connections',
      ),
    ),
    section(
      'MAC tables',
      table(
        ['segment', 'MAC', 'where', 'last seen'],
        macTables.flatMap(([segment, entries]) => entries.map((e) => [segment, h('code', {}, text(e.mac)), get(e, 'location', 'kind') === 'vnic' ? text(get(e, 'location', 'vnic')) : `TEP ${text(get(e, 'location', 'tep'))}`, vtime(Number(e.lastSeen ?? 0))])),
        'empty',
      ),
    ),
    section(
      `Virtual functions (${text(get(pool, 'free'))} of ${text(get(pool, 'size'))} free)`,
      table(['VF', 'vNIC', 'VFIO state', 'device', 'loaded'], list(get(pool, 'functions')).map((f) => [text(f.vf), text(f.vnic), pill(text(f.state), f.state === 'RUNNING' ? 'ok' : 'warn'), text(get(f, 'device', 'status')), text(f.loaded)]), 'no VF in use'),
    ),
    section('Ports', portsTable(list(get(live, 'ports')))),
    costSection(get(datapath, 'cost'), 'Arm'),
  ].filter((x): x is HTMLElement => x !== null);
}

/** A switch as it reports itself. */
function switchLive(live: unknown): HTMLElement[] {
  const core = get(live, 'core');
  return [
    section('Ports', table(['port', 'mode', 'rx', 'tx', 'floods', 'drops'], list(get(core, 'ports')).map((p) => [text(p.port), `${text(p.mode)}${p.mode === 'trunk' ? ` native ${text(p.native)}` : ` vlan ${text(p.vlan)}`}`, text(p.rxFrames), text(p.txFrames), text(p.floods), text(p.rxDrops)]))),
    section('MAC table', table(['VLAN', 'MAC', 'port', 'last seen'], list(get(core, 'macTable')).map((m) => [text(m.vlan), h('code', {}, text(m.mac)), text(m.port), vtime(Number(m.lastSeen ?? 0))]), 'empty')),
    section('LLDP neighbours', lldpTable(list(get(core, 'lldp')))),
  ];
}

function managerLive(live: unknown): HTMLElement[] {
  const core = get(live, 'core');
  const inventory = get(core, 'inventory');
  const vms = Object.entries((get(inventory, 'vms') as Record<string, unknown> | undefined) ?? {});
  return [
    keyValues([
      ['address', text(get(core, 'address'))],
      ['overlay table', `epoch ${text(get(inventory, 'epoch'))}, generation ${text(get(inventory, 'generation'))}`],
      ['resyncing', list(get(core, 'resyncing')).length > 0 ? list(get(core, 'resyncing')).map(text).join(', ') : 'no'],
    ]),
    section('Hosts', table(['host', 'active DPU', 'standby', 'tunnel endpoint', 'known'], list(get(inventory, 'hosts')).map((h) => [text(h.host), text(h.active), text(h.standby), text(h.tep), text(h.known)]))),
    section('VMs', table(['VM', 'runs on'], vms.map(([vm, host]) => [vm, text(host)]), 'none known')),
    section('Tables pushed', table(['node', 'acknowledged', 'sent', 'retrying'], list(get(core, 'tables')).map((r) => [text(r.node), r.acked === null || r.acked === undefined ? '-' : `${text(get(r.acked, 'epoch'))}/${text(get(r.acked, 'generation'))}`, text(r.sent), text(r.retrying)]))),
    section('Migrations', table(['migration', 'from', 'to', 'state', 'reason'], list(get(core, 'migrations')).map((m) => [text(m.mid), text(m.from), text(m.to), text(m.state), text(m.reason)]), 'none')),
  ];
}

/** Any node as the log tells it (a recording, or a node that is not running). */
function fromLog(store: Store, view: NodeStateView): HTMLElement[] {
  const out: HTMLElement[] = [];
  const life = view.life;
  out.push(
    keyValues([
      ['process', life ? (life.up ? `running (incarnation ${life.incarnation}, since ${vtime(life.startedAt)})` : `ended at ${vtime(life.exitedAt ?? 0)}: ${life.exit?.signal ? `killed by ${life.exit.signal}` : `exit ${text(life.exit?.code)}`}`) : 'not started'],
    ]),
  );
  if (view.dpu) {
    const d = view.dpu;
    out.push(dpuRoleSection(d.role));
    out.push(
      section(
        `Distributed firewall (generation ${d.firewall?.generation ?? 0})`,
        table(
          ['rule', 'action', 'from → to', 'service', 'hits'],
          d.rules.map((r) =>
            r.id === 'default' && !r.definition
              ? [h('code', {}, r.id), 'default action', 'any → any', 'any', String(r.hits)]
              : [h('code', {}, r.id), text(get(r.definition, 'action')), r.definition ? `${terms(get(r.definition, 'sources'))} → ${terms(get(r.definition, 'destinations'))}` : '-', ruleService(r.definition), String(r.hits)],
          ),
          'no rules added',
        ),
        keyValues([['connections', String(d.firewall?.connections ?? 0)], ['rejected', String(d.firewall?.rejects ?? 0)]]),
      ),
    );
    out.push(section('Virtual functions', table(['VF', 'vNIC', 'VFIO state', 'since'], d.vfs.map((v) => [String(v.vf), v.vnic, pill(v.state, v.state === 'RUNNING' ? 'ok' : 'warn'), vtime(v.since)]), 'no VF events')));
  }
  if (view.host) {
    const hv = view.host;
    out.push(hostDpusSection(hv.dpus));
    out.push(hostVnicsSection(store, hv.vnics));
    out.push(section('Flows', table(['flow', 'kind', 'to', 'sent', 'delivered', 'state'], hv.flows.map((f) => [f.id, f.kind, f.to, text(f.sender?.sent), text(f.receiver?.delivered), f.stoppedAt !== null ? 'stopped' : f.sender?.tcpState ?? 'running']), 'no flows')));
  }
  if (view.macs.length > 0 || view.kind === 'switch') out.push(section('MAC table', table(['VLAN', 'MAC', 'port', 'since'], view.macs.map((m) => [String(m.vlan), h('code', {}, m.mac), m.port, vtime(m.since)]), 'empty')));
  out.push(section('Ports', table(['port', 'wire', 'link', 'LLDP neighbour'], view.ports.map((p) => [p.port, p.wire ?? '-', p.up ? pill('up', 'ok') : pill('down', 'bad'), p.neighbor ? `${p.neighbor.systemName ?? '?'} ${p.neighbor.portId}` : '-']))));
  if (view.cost) {
    out.push(section(`Networking cost (${view.cost.coreType} cores)`, keyValues([['cores used', view.cost.coresUsed.toFixed(5)], ['CPU time', `${view.cost.totalCpuNs} ns`], ['by mode', Object.entries(view.cost.byMode).map(([m, c]) => `${m} ${c.toFixed(5)}`).join(', ') || '-']])));
  }
  return out;
}

/** What each vMotion phase means, for people. */
const PHASE_TEXT: Record<VmotionPhase, string> = {
  start: 'starting',
  precheck: 'prechecks answered',
  handoff: 'vNICs handed to the emulated backend',
  precopy: 'pre-copying memory',
  throttle: 'pre-copy, vCPUs throttled',
  stun: 'stunned for the switchover',
  transfer: 'switchover state sent',
  'dfw-export': 'firewall state exported',
  'dfw-import': 'firewall state imported',
  resume: 'resumed on the destination',
  rarp: 'announced by RARP',
  passthrough: 'vNIC back on a VF',
  released: 'source released',
  done: 'done',
};

/** A VM's migration under way (or its last one): phase, steps, pre-copy rounds, outcome. */
function vmotionSection(migration: MigrationView | null): HTMLElement | null {
  if (!migration) return null;
  const done = migration.endedAt !== null;
  const tone = !done ? 'warn' : migration.result === 'success' ? 'ok' : migration.result === 'aborted' ? 'bad' : 'warn';
  return section(
    done ? 'Last vMotion' : 'vMotion under way',
    h('div', { class: 'vmotion-phase', 'data-phase': migration.phase }, pill(done ? (migration.result ?? 'done') : PHASE_TEXT[migration.phase], tone), ` ${migration.from} → ${migration.to} since ${vtime(migration.phaseSince)}`),
    keyValues([
      ['migration', h('code', {}, migration.mid)],
      ['started', vtime(migration.startedAt)],
      ['pre-copy rounds', migration.rounds.length === 0 ? '-' : migration.rounds.map((r) => `${r.pagesSent} sent / ${r.pagesDirtied} dirtied`).join(', ')],
      ['switchover', migration.switchoverNs === null ? '-' : duration(migration.switchoverNs)],
      ['downtime', migration.downtimeNs === null ? (done ? 'no frame within a second of the resume' : '-') : duration(migration.downtimeNs)],
      ...(migration.reason ? [['reason', migration.reason] as [string, Child]] : []),
    ]),
    h('div', { class: 'vmotion-steps' }, table(['time', 'node', 'step', 'what'], migration.steps.map((step) => [vtime(step.vtime), step.node, step.phase, step.detail]))),
  );
}

/** The inspector panel. */
/** Run states after which a live run has nothing left to capture. */
const ENDED = new Set(['completed', 'interrupted', 'failed']);

/**
 * "Capture": a link that downloads `/api/capture` for a wire or vNIC, a pcapng file that grows as
 * the live run records frames (over a recording: the recording's capture). None in the desktop
 * shell, whose protocol carries JSON calls and no stream, nor once a live run has ended.
 */
function captureLink(store: Store, field: 'wire' | 'vnic', id: string): HTMLElement | null {
  if (window.dpulab || (store.live && ENDED.has(store.status?.state ?? ''))) return null;
  const what = field === 'wire' ? "this wire's frames" : 'what the guest sends and receives';
  const title = store.live ? `Streams ${what} as pcapng while the run goes; from a shell: dpulab capture URL --${field} ${id} | wireshark -k -i -` : `The recording's capture of ${what}, as pcapng`;
  return h('p', { class: 'capture' }, h('a', { class: 'button', href: `/api/capture?${field}=${encodeURIComponent(id)}`, download: `${id}.pcapng`, title, 'data-capture': id }, `Capture ${id} (${store.live ? 'live ' : ''}pcapng)`));
}

export class InspectorView {
  private generation = 0;
  private refresh: number | undefined;

  constructor(
    private readonly root: HTMLElement,
    private readonly store: Store,
  ) {
    store.on('selection', () => void this.render(true));
    store.on('cursor', () => void this.render(false));
    this.empty();
    // A live node changes all the time: ask it again every second and a half.
    this.refresh = window.setInterval(() => {
      const s = this.store.selection;
      if (this.store.live && this.store.status?.state === 'running' && s && s.type !== 'event') void this.render(false);
    }, 1500);
  }

  /** Stops refreshing. */
  dispose(): void {
    window.clearInterval(this.refresh);
  }

  private empty(): void {
    replace(this.root, h('div', { class: 'inspector-empty' }, h('h2', {}, 'Inspector'), h('p', {}, 'Click a host, DPU, switch, VM, cable or event to see its state.')));
  }

  private async render(fresh: boolean): Promise<void> {
    const s = this.store.selection;
    if (!s) {
      this.empty();
      return;
    }
    const generation = ++this.generation;
    const open = new Set([...this.root.querySelectorAll('details[open]')].map((d) => d.getAttribute('data-key')));
    const scroll = this.root.scrollTop;
    let body: HTMLElement;
    try {
      body = await this.build();
    } catch (error) {
      body = h('p', { class: 'error' }, error instanceof Error ? error.message : String(error));
    }
    if (generation !== this.generation) return;
    replace(this.root, body);
    if (!fresh) {
      for (const d of this.root.querySelectorAll('details')) if (open.has(d.getAttribute('data-key'))) d.setAttribute('open', '');
      this.root.scrollTop = scroll;
    }
  }

  private async build(): Promise<HTMLElement> {
    const s = this.store.selection!;
    const run = this.store.run!;
    const at = this.store.cursor ?? undefined;
    const title = (kind: string, id: string, ...extra: Child[]): HTMLElement => h('header', { class: 'inspector-title' }, h('span', { class: 'kind' }, kind), h('h2', {}, id), ...extra);
    switch (s.type) {
      case 'node': {
        const info: InspectResponse = await api.inspect(s.id, at);
        // The server folded the state this answer comes from: the title says what the sections say.
        const condition = info.log?.dpu?.role.condition ?? nodeCondition(this.store.lab, run.topology, s.id);
        const head = title(info.kind, s.id, pill(condition, CONDITION_TONES[condition] ?? 'muted'), h('span', { class: 'source' }, info.source === 'live' ? 'live state' : `from the log at event ${info.at}`));
        let sections: HTMLElement[];
        if (info.live !== null && info.live !== undefined) {
          sections = info.kind === 'host' ? hostLive(this.store, info.live, info.log) : info.kind === 'dpu' ? dpuLive(info.live, info.log) : info.kind === 'manager' ? managerLive(info.live) : switchLive(info.live);
        } else {
          sections = info.log ? fromLog(this.store, info.log) : [];
        }
        return h('div', { class: 'inspector' }, head, sections, rawJson('everything, as JSON', info.live ?? info.log));
      }
      case 'vm': {
        const home = run.topology.nodes.find((n) => n.kind === 'host' && n.spec.vms.some((vm) => vm.id === s.id));
        const vm = home?.kind === 'host' ? home.spec.vms.find((v) => v.id === s.id) : undefined;
        if (!vm || !home) return h('p', { class: 'empty' }, `No VM ${s.id}`);
        const lab = this.store.lab;
        const host = vmHostOf(lab, vm.id, home.id);
        const underWay = migrationUnderWay(lab, vm.id);
        const vnics = await Promise.all(vm.vnics.map(async (n) => [captureLink(this.store, 'vnic', n.id), await vnicView(this.store, n.id)]));
        return h(
          'div',
          { class: 'inspector' },
          title('VM', vm.id, underWay ? pill(`vMotion: ${PHASE_TEXT[underWay.phase]}`, 'warn') : null, h('span', { class: 'source', 'data-host': host }, `on ${host}`)),
          keyValues([
            ['runs on', host === home.id ? host : `${host} (moved from ${home.id}, its topology host, at ${vtime(lab.vms[vm.id]?.since ?? 0)})`],
            ['vCPUs / memory', `${vm.vcpus} vCPUs, ${vm.memoryMiB} MiB (${vm.memoryReservationMiB} reserved)`],
            ['hardware / driver', `version ${vm.hardwareVersion}, vmxnet3 driver ${vm.driverVersion}`],
            ['dirty pages', `${vm.dirtyPagesPerSec} per second`],
          ]),
          vmotionSection(underWay ?? lastMigration(lab, vm.id)),
          vnics.flat(),
        );
      }
      case 'vnic':
        return h('div', { class: 'inspector' }, title('vNIC', s.id), captureLink(this.store, 'vnic', s.id), await vnicView(this.store, s.id));
      case 'wire': {
        const wire = run.topology.wires.find((w) => w.id === s.id);
        if (!wire) return h('p', { class: 'empty' }, `No wire ${s.id}`);
        const lab = this.store.lab;
        const up = wireUp(lab, wire);
        return h(
          'div',
          { class: 'inspector' },
          title('wire', wire.id, up ? pill('up', 'ok') : pill('down', 'bad')),
          keyValues([
            ['ends', `${wire.a.node}:${wire.a.port} ⇄ ${wire.b.node}:${wire.b.port}`],
            ['latency', duration(wire.latencyNs)],
            ['bandwidth', `${(wire.bandwidthBps / 1e9).toFixed(wire.bandwidthBps % 1e9 === 0 ? 0 : 1)} Gb/s`],
            ['load', `${rate(wireLoad(lab, wire.id))} frames per second (last 100 ms of virtual time)`],
            ['frames carried', String(lab.wires[wire.id]?.total ?? 0)],
            ['impairments', JSON.stringify(wire.impairments)],
          ]),
          captureLink(this.store, 'wire', wire.id),
          h('p', { class: 'muted' }, `dpulab pcap ${run.run.db} --wire ${wire.id} -o ${wire.id}.pcapng`),
        );
      }
      case 'event':
        return this.eventDetail(s.event);
    }
  }

  private async eventDetail(event: ClusterEvent): Promise<HTMLElement> {
    const cause = event.cause;
    const goCause = async (): Promise<void> => {
      if (cause === null) return;
      const page = await api.events({ from: cause, limit: 1 });
      const found = page.events[0];
      if (found) this.store.select({ type: 'event', event: found });
    };
    const parts: Child[] = [
      h('header', { class: 'inspector-title' }, h('span', { class: 'kind' }, 'event'), h('h2', {}, event.kind)),
      keyValues([
        ['seq', String(event.seq)],
        ['virtual time', `${vtime(event.vtime)} (${event.vtime} ns)`],
        ['node', event.node],
        ['cause', cause === null ? '-' : h('button', { class: 'link', onclick: () => void goCause() }, `event ${cause}`)],
        ['summary', eventSummary(event)],
      ]),
      section('Payload', h('pre', { class: 'payload' }, JSON.stringify(event.payload, null, 2))),
    ];
    if (event.kind === 'frame.tx') parts.push(section('Frame', await frameView(event.seq)));
    return h('div', { class: 'inspector' }, parts);
  }
}

