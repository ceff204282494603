/// <reference lib="dom" />
/**
 * The dpulab UI in the browser (and in the desktop shell, unchanged): connects to the server it
 * was loaded from, keeps the store current from the stream (live) or from seeks (recording), and
 * wires the views together.
 */
import { api, openStream } from './api.js';
import { byId } from './dom.js';
import { vtime } from './format.js';
import type { ClusterEvent } from '../../shared/state/cluster-state.js';
import { dpuRoleView, nodeCondition, servingText, vnicStateView } from '../../shared/state/node-view.js';
import { lastMigration, migrationUnderWay, vmHostOf } from '../../shared/state/queries.js';
import { flowOutcome } from '../../shared/state/summary.js';
import { Store } from './store.js';
import { ActionsView } from './views/actions.js';
import { ChartsView } from './views/charts.js';
import { EventsView } from './views/events.js';
import { InspectorView } from './views/inspector.js';
import { InvariantsView } from './views/invariants.js';
import { LabPanel } from './views/lab.js';
import { SequenceView } from './views/sequence.js';
import { TimeBar } from './views/time-bar.js';
import { TopologyView } from './views/topology.js';

const store = new Store();
let seekGeneration = 0;

/** Recording: shows the lab as it was right after event `seq`. */
async function seek(seq: number): Promise<void> {
  const generation = ++seekGeneration;
  const state = await api.state(seq);
  if (generation !== seekGeneration) return;
  store.cursor = seq;
  store.setLab(state);
  store.emit('cursor');
}

function pick(event: ClusterEvent): void {
  store.select({ type: 'event', event });
  if (!store.live) void seek(event.seq);
}

/** A plain-text account of the run as it stands, for the Report button: the views' own words, from the same state. */
function report(): string {
  const run = store.run;
  if (!run) return '';
  const lab = store.lab;
  const topology = run.topology;
  const dpus = topology.nodes.filter((n) => n.kind === 'dpu').map((n) => dpuRoleView(lab, topology, n.id)!);
  const vnics = topology.nodes.flatMap((n) => (n.kind === 'host' ? n.spec.vms.flatMap((vm) => vm.vnics.map((v) => vnicStateView(lab, topology, v.id)!)) : []));
  const vms = topology.nodes.flatMap((n) => (n.kind === 'host' ? n.spec.vms.map((vm) => ({ vm: vm.id, home: n.id })) : []));
  const lines = [
    `# dpulab report: ${run.run.topology} / ${run.run.scenario ?? '-'} / seed ${run.run.seed}`,
    '',
    `- event log: ${run.run.db}`,
    `- ${run.mode === 'live' ? 'live run' : 'recording'}, ${store.status?.state ?? '?'}, at ${vtime(lab.vtime)} (event ${lab.seq})`,
    run.run.fingerprint ? `- fingerprint: ${run.run.fingerprint}` : '',
    '',
    '## Nodes',
    '',
    '| node | kind | state |',
    '|---|---|---|',
    ...topology.nodes.map((n) => `| ${n.id} | ${n.kind} | ${nodeCondition(lab, topology, n.id)} |`),
    '',
    '## DPUs',
    '',
    '| DPU | host | role | its own | host sees |',
    '|---|---|---|---|---|',
    ...dpus.map((d) => `| ${d.dpu} | ${d.host} | ${d.role ?? '-'} | ${d.ownRole ?? '-'} | ${d.state || '-'} |`),
    '',
    '## vNICs',
    '',
    '| vNIC | VM | host | mode | served by |',
    '|---|---|---|---|---|',
    ...vnics.map((v) => `| ${v.vnic} | ${v.vm} | ${v.host} | ${v.active || '-'} | ${servingText(v)}${v.disconnected ? ` (disconnected: ${v.disconnected})` : ''} |`),
    '',
    '## VMs',
    '',
    '| VM | runs on | vMotion |',
    '|---|---|---|',
    ...vms.map(({ vm, home }) => {
      const migration = migrationUnderWay(lab, vm) ?? lastMigration(lab, vm);
      const motion = migration === null ? '-' : `${migration.from} → ${migration.to}: ${migration.endedAt === null ? migration.phase : (migration.result ?? 'done')}`;
      return `| ${vm} | ${vmHostOf(lab, vm, home)} | ${motion} |`;
    }),
    '',
    '## Failovers',
    '',
    ...(lab.failovers.length === 0
      ? ['none']
      : ['| host | from | to | reason | result | at |', '|---|---|---|---|---|---|', ...lab.failovers.map((f) => `| ${f.host} | ${f.from} | ${f.to ?? '-'} | ${f.reason} | ${f.result ?? 'under way'}${f.impossibleReason ? ` (${f.impossibleReason})` : ''} | ${vtime(f.startedAt)} |`)]),
    '',
    '## Flows',
    '',
    '| flow | kind | from | to | sent | delivered | lost | state |',
    '|---|---|---|---|---|---|---|---|',
    ...Object.values(lab.flows).map((f) => {
      const outcome = flowOutcome(f);
      return `| ${f.id} | ${f.kind} | ${f.from} | ${f.to} | ${outcome?.sent ?? '-'} | ${outcome?.delivered ?? '-'} | ${outcome?.lost ?? '-'} | ${f.stoppedAt !== null ? 'stopped' : (f.sender?.tcpState ?? 'running')} |`;
    }),
    '',
    '## Cores used by networking',
    '',
    ...Object.entries(lab.costs).map(([node, c]) => `- ${node} (${c.coreType}): ${c.coresUsed.toFixed(5)} cores`),
  ];
  return `${lines.filter((l, i, all) => !(l === '' && all[i - 1] === '')).join('\n')}\n`;
}

new TopologyView(byId('topology'), store, (vm, to) => void actions.send({ action: 'vmotion', vm, to }));
new InspectorView(byId('inspector'), store);
new EventsView(byId('tab-events'), store, pick);
const sequence = new SequenceView(byId('tab-sequence'), store, pick);
const charts = new ChartsView(byId('tab-charts'), store);
const actions = new ActionsView(byId('tab-actions'), store);
const invariants = new InvariantsView(byId('tab-invariants'), store, pick);
new TimeBar(byId('header'), byId('replay-bar'), store, (seq) => void seek(seq), report);
const labPanel = new LabPanel(byId('lab-panel'), store);

// Tabs under the topology.
const tabs = [...document.querySelectorAll<HTMLButtonElement>('[data-tab]')];
function showTab(name: string): void {
  for (const tab of tabs) {
    const selected = tab.dataset.tab === name;
    tab.setAttribute('aria-selected', String(selected));
    byId(`tab-${tab.dataset.tab!}`).hidden = !selected;
  }
  sequence.visible = name === 'sequence';
  charts.visible = name === 'charts';
  invariants.visible = name === 'invariants';
  if (name === 'sequence') sequence.show();
  if (name === 'charts') charts.show();
}
for (const tab of tabs) tab.addEventListener('click', () => showTab(tab.dataset.tab!));
showTab('events');

// Recording: arrow keys step through events.
document.addEventListener('keydown', (e) => {
  if (store.live || store.cursor === null || (e.target instanceof HTMLElement && ['INPUT', 'SELECT', 'TEXTAREA'].includes(e.target.tagName))) return;
  const total = store.status?.events ?? 0;
  if (e.key === 'ArrowLeft') void seek(Math.max(0, store.cursor - 1));
  else if (e.key === 'ArrowRight') void seek(Math.min(total - 1, store.cursor + 1));
});

openStream(
  (message) => {
    switch (message.t) {
      case 'hello':
        store.setRun(message.run);
        if (message.run.mode === 'replay') {
          // A recording opens at its first event, every link as it was then, not at its end.
          store.cursor = 0;
          store.emit('cursor');
          void seek(0);
        } else {
          store.setLab(message.state);
          void api.events({ order: 'desc', limit: 300 }).then((page) => store.addEvents(page.events, 0));
        }
        break;
      case 'events':
        store.addEvents(message.events, message.skipped);
        break;
      case 'state':
        if (store.live) store.setLab(message.state);
        break;
      case 'status':
        store.setStatus(message.status);
        break;
      case 'lab':
        labPanel.update(message.grade);
        break;
    }
  },
  (connected) => store.setConnected(connected),
);
