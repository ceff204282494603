/// <reference lib="dom" />
/**
 * Charts (uPlot): each flow's throughput from the deltas of its reports, the cores each node
 * spent on networking (end-of-run cost reports), and each vMotion's pre-copy rounds: the pages
 * sent and the pages the guest dirtied meanwhile, round by round.
 */
import uPlot from 'uplot';
import { h, replace, table } from '../dom.js';
import { duration } from '../format.js';
import type { FlowView, ClusterState, MigrationView } from '../../../shared/state/cluster-state.js';
import type { Store } from '../store.js';

const PALETTE = ['#38bdf8', '#f472b6', '#a3e635', '#fbbf24', '#c084fc', '#34d399', '#fb7185', '#60a5fa'];

/** Messages per second between a flow's consecutive reports (its receiver's, else its sender's). */
export function flowRates(flow: FlowView): Array<[number, number]> {
  const hasReceiver = flow.samples.some((s) => s.side === 'receiver');
  const side = hasReceiver ? 'receiver' : 'sender';
  const samples = flow.samples.filter((s) => s.side === side);
  const out: Array<[number, number]> = [];
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1]!;
    const b = samples[i]!;
    const dt = (b.vtime - a.vtime) / 1e9;
    if (dt > 0) out.push([b.vtime / 1e9, Math.max(0, (b.count - a.count) / dt)]);
  }
  return out;
}

/** The x values of every flow and each flow's rates aligned to them (null where it has none). */
export function throughputData(lab: ClusterState): { flows: string[]; data: uPlot.AlignedData } {
  const flows = Object.values(lab.flows).sort((a, b) => (a.id < b.id ? -1 : 1));
  const rates = flows.map(flowRates);
  const xs = [...new Set(rates.flatMap((r) => r.map(([x]) => x)))].sort((a, b) => a - b);
  const series = rates.map((r) => {
    const byX = new Map(r);
    return xs.map((x) => byX.get(x) ?? null);
  });
  return { flows: flows.map((f) => f.id), data: [xs, ...series] as uPlot.AlignedData };
}

/** The migrations that have pre-copy rounds, in the order they started, with a label each. */
export function migrationsWithRounds(lab: ClusterState): Array<{ label: string; migration: MigrationView }> {
  const seen = new Map<string, number>();
  return Object.values(lab.migrations)
    .filter((m) => m.rounds.length > 0)
    .map((migration) => {
      const base = `${migration.vm} ${migration.from}→${migration.to}`;
      const n = (seen.get(base) ?? 0) + 1;
      seen.set(base, n);
      return { label: n === 1 ? base : `${base} #${n}`, migration };
    });
}

/**
 * Pre-copy rounds aligned for uPlot: x is the round number, then for each migration two series,
 * pages sent and pages dirtied during that round (null for rounds it did not have).
 */
export function precopyData(lab: ClusterState): { labels: string[]; data: uPlot.AlignedData } {
  const migrations = migrationsWithRounds(lab);
  const last = Math.max(-1, ...migrations.flatMap(({ migration }) => migration.rounds.map((r) => r.round)));
  const xs = Array.from({ length: last + 1 }, (_, i) => i);
  const series: Array<Array<number | null>> = [];
  for (const { migration } of migrations) {
    const byRound = new Map(migration.rounds.map((r) => [r.round, r]));
    series.push(xs.map((x) => byRound.get(x)?.pagesSent ?? null));
    series.push(xs.map((x) => byRound.get(x)?.pagesDirtied ?? null));
  }
  return { labels: migrations.map((m) => m.label), data: [xs, ...series] as uPlot.AlignedData };
}

/** The power of ten at or above `value` (at least 10). */
function decadeAbove(value: number): number {
  return 10 ** Math.ceil(Math.log10(Math.max(10, value)));
}

/** Ticks for a page count on an arcsinh scale: 0 and each power of ten up to `max`. */
function decades(max: number): number[] {
  const out = [0];
  for (let p = 1; p <= max * 1.0001; p *= 10) out.push(p);
  return out;
}

function pagesLabel(pages: number | null): string {
  // uPlot leaves out (null) the ticks too close to the previous one.
  if (pages === null) return '';
  return pages >= 1e6 ? `${pages / 1e6}M` : pages >= 1e3 ? `${pages / 1e3}k` : String(pages);
}

const AXIS = { stroke: '#8aa0b8', grid: { stroke: '#1e2a3a', width: 1 }, ticks: { stroke: '#1e2a3a' } };

/** The charts tab. */
export class ChartsView {
  private throughput: uPlot | null = null;
  private cores: uPlot | null = null;
  private rounds: uPlot | null = null;
  private flowsKey = '';
  private coresKey = '';
  private roundsKey = '';
  private roundsDataKey = '';
  private readonly roundsTable: HTMLElement;
  private readonly throughputBox: HTMLElement;
  private readonly coresBox: HTMLElement;
  private readonly vmotionBox: HTMLElement;
  visible = false;

  constructor(
    root: HTMLElement,
    private readonly store: Store,
  ) {
    this.throughputBox = h('div', { class: 'chart', id: 'chart-throughput' });
    this.coresBox = h('div', { class: 'chart', id: 'chart-cores' });
    this.vmotionBox = h('div', { class: 'chart', id: 'chart-vmotion' });
    this.roundsTable = h('div', { id: 'vmotion-table', class: 'vmotion-table' });
    replace(
      root,
      h('div', { class: 'charts' }, h('div', { class: 'chart-card wide' }, h('h3', {}, 'Flow throughput (messages per virtual second)'), this.throughputBox), h('div', { class: 'chart-card wide' }, h('h3', {}, 'vMotion pre-copy rounds (pages per round; solid sent, dashed dirtied)'), h('div', { class: 'vmotion-body' }, this.vmotionBox, this.roundsTable)), h('div', { class: 'chart-card' }, h('h3', {}, 'Cores used by networking'), this.coresBox)),
    );
    store.on('lab', () => this.update());
    new ResizeObserver(() => this.resize()).observe(root);
  }

  show(): void {
    this.visible = true;
    this.flowsKey = '';
    this.coresKey = '';
    this.roundsKey = '';
    this.roundsDataKey = '';
    this.update();
  }

  private resize(): void {
    const width = (box: HTMLElement): number => Math.max(200, box.clientWidth - 8);
    this.throughput?.setSize({ width: width(this.throughputBox), height: 190 });
    this.cores?.setSize({ width: width(this.coresBox), height: 170 });
    this.rounds?.setSize({ width: width(this.vmotionBox), height: 230 });
  }

  private update(): void {
    if (!this.visible) return;
    this.updateThroughput();
    this.updateCores();
    this.updateVmotion();
  }

  private updateThroughput(): void {
    const { flows, data } = throughputData(this.store.lab);
    if (flows.length === 0 || data[0].length === 0) {
      this.throughput?.destroy();
      this.throughput = null;
      this.flowsKey = '';
      replace(this.throughputBox, h('p', { class: 'empty' }, flows.length === 0 ? 'No flows yet: start one under Actions' : 'Waiting for the second report of each flow'));
      return;
    }
    const key = flows.join(',');
    if (this.throughput && key === this.flowsKey) {
      this.throughput.setData(data);
      return;
    }
    this.throughput?.destroy();
    this.flowsKey = key;
    this.throughputBox.replaceChildren();
    this.throughput = new uPlot(
      {
        width: Math.max(200, this.throughputBox.clientWidth - 8),
        height: 190,
        scales: { x: { time: false } },
        series: [{ label: 'virtual s' }, ...flows.map((f, i) => ({ label: f, stroke: PALETTE[i % PALETTE.length]!, width: 2, spanGaps: true, points: { size: 4 } }))],
        axes: [
          { ...AXIS, label: 'virtual time (s)' },
          { ...AXIS, label: 'msg/s', size: 56 },
        ],
        legend: { live: true },
      },
      data,
      this.throughputBox,
    );
  }

  private updateCores(): void {
    const costs = Object.entries(this.store.lab.costs).sort(([a], [b]) => (a < b ? -1 : 1));
    if (costs.length === 0) {
      this.cores?.destroy();
      this.cores = null;
      this.coresKey = '';
      replace(this.coresBox, h('p', { class: 'empty' }, 'Each host and DPU reports its CPU time when the run ends; the bars appear then.'));
      return;
    }
    const names = costs.map(([node, c]) => `${node} (${c.coreType})`);
    const key = JSON.stringify(costs.map(([n, c]) => [n, c.coresUsed]));
    if (this.cores && key === this.coresKey) return;
    this.cores?.destroy();
    this.coresKey = key;
    this.coresBox.replaceChildren();
    const xs = costs.map((_, i) => i);
    const bars = uPlot.paths.bars!({ size: [0.6, 60] });
    this.cores = new uPlot(
      {
        width: Math.max(200, this.coresBox.clientWidth - 8),
        height: 170,
        scales: { x: { time: false, range: [-0.6, costs.length - 0.4] } },
        series: [{ label: 'node' }, { label: 'cores used', stroke: '#38bdf8', fill: 'rgba(56,189,248,0.45)', paths: bars, points: { show: false } }],
        axes: [
          { ...AXIS, values: (_u, splits) => splits.map((s) => (Number.isInteger(s) ? (names[s] ?? '') : '')), rotate: -20, size: 60, gap: 4 },
          { ...AXIS, size: 64, values: (_u, splits) => splits.map((s) => s.toPrecision(2)) },
        ],
        legend: { show: false },
      },
      [xs, costs.map(([, c]) => c.coresUsed)],
      this.coresBox,
    );
  }

  private updateVmotion(): void {
    const lab = this.store.lab;
    this.updateRoundsTable(lab);
    const { labels, data } = precopyData(lab);
    if (labels.length === 0) {
      this.rounds?.destroy();
      this.rounds = null;
      this.roundsKey = '';
      const started = Object.keys(lab.migrations).length;
      replace(this.vmotionBox, h('p', { class: 'empty' }, started === 0 ? 'No vMotion yet: drag a VM onto another host, or use Actions.' : 'Pre-copying: the first round appears when it ends.'));
      return;
    }
    const key = labels.join('|');
    const dataKey = JSON.stringify(data);
    if (this.rounds && key === this.roundsKey) {
      if (dataKey !== this.roundsDataKey) this.rounds.setData(data);
      this.roundsDataKey = dataKey;
      return;
    }
    this.rounds?.destroy();
    this.roundsKey = key;
    this.roundsDataKey = dataKey;
    this.vmotionBox.replaceChildren();
    const last = data[0].length - 1;
    this.rounds = new uPlot(
      {
        width: Math.max(200, this.vmotionBox.clientWidth - 8),
        height: 230,
        // Round 0 sends all of memory, later rounds what the guest dirtied: an arcsinh scale shows both.
        scales: { x: { time: false, range: [-0.4, last + 0.4] }, y: { distr: 4, asinh: 1, range: (_u, _min, max) => [0, decadeAbove(max)] } },
        series: [
          { label: 'round' },
          ...labels.flatMap((label, i) => {
            const stroke = PALETTE[i % PALETTE.length]!;
            return [
              { label: `${label} sent`, stroke, width: 2, spanGaps: true, points: { show: true, size: 8, fill: stroke } },
              { label: `${label} dirtied`, stroke, width: 2, dash: [6, 4], spanGaps: true, points: { show: true, size: 7 } },
            ];
          }),
        ],
        axes: [
          { ...AXIS, label: 'pre-copy round', values: (_u, splits) => splits.map((s) => (Number.isInteger(s) ? String(s) : '')) },
          { ...AXIS, label: 'pages (4 KiB)', size: 64, splits: (_u, _axis, _min, max) => decades(max), values: (_u, splits) => splits.map(pagesLabel) },
        ],
        legend: { live: false },
      },
      data,
      this.vmotionBox,
    );
  }

  /** One row per vMotion: where it goes, how far it got, its rounds and its switchover. */
  private updateRoundsTable(lab: ClusterState): void {
    const rows = Object.values(lab.migrations).map((m) => {
      const sent = m.rounds.reduce((n, r) => n + r.pagesSent, 0);
      return [
        m.vm,
        `${m.from} → ${m.to}`,
        m.endedAt === null ? m.phase : (m.result ?? 'done'),
        String(m.rounds.length),
        String(sent),
        m.switchoverNs === null ? '-' : duration(m.switchoverNs),
        m.downtimeNs === null ? '-' : duration(m.downtimeNs),
      ];
    });
    replace(this.roundsTable, rows.length === 0 ? null : table(['VM', 'move', 'phase / result', 'rounds', 'pages sent', 'switchover', 'downtime'], rows));
  }
}
