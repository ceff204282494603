/// <reference lib="dom" />
/**
 * Charts (uPlot): each flow's throughput from the log in 10 ms buckets (`/api/throughput`: what
 * the receiving guest got, a ping's replies), live over the last few virtual seconds; the cores
 * each node spends on networking (`/api/cores`: live from the nodes, then their end-of-run
 * reports); and each vMotion's pre-copy rounds: the pages sent and the pages the guest dirtied
 * meanwhile, round by round.
 */
import uPlot from 'uplot';
import { api } from '../api.js';
import { h, replace, table } from '../dom.js';
import type { CoresResponse, ThroughputResponse } from '../../common/protocol.js';
import { duration } from '../format.js';
import type { ClusterState, MigrationView } from '../../../shared/state/cluster-state.js';
import type { Store } from '../store.js';

const PALETTE = ['#38bdf8', '#f472b6', '#a3e635', '#fbbf24', '#c084fc', '#34d399', '#fb7185', '#60a5fa'];

/** Throughput buckets, in ms: fine enough that a failover or a vMotion shows as a dip. */
export const BUCKET_MS = 10;
/** Live, the throughput chart shows this much of the recent past. */
export const LIVE_WINDOW_NS = 5_000_000_000;

/** `/api/throughput` aligned for uPlot: x in virtual seconds, one series per flow (null before it started). */
export function alignThroughput(answer: ThroughputResponse): { flows: string[]; data: uPlot.AlignedData } {
  const starts = answer.flows.flatMap((f) => (f.points.length > 0 ? [f.points[0]![0]] : []));
  if (starts.length === 0) return { flows: answer.flows.map((f) => f.id), data: [[]] as unknown as uPlot.AlignedData };
  const first = Math.min(...starts);
  const last = Math.max(...answer.flows.flatMap((f) => (f.points.length > 0 ? [f.points[f.points.length - 1]![0]] : [])));
  const count = Math.round((last - first) / answer.bucketNs) + 1;
  const xs = Array.from({ length: count }, (_, i) => (first + i * answer.bucketNs) / 1e9);
  const series = answer.flows.map((f) => {
    const column: Array<number | null> = new Array<number | null>(count).fill(null);
    for (const [at, perSecond] of f.points) column[Math.round((at - first) / answer.bucketNs)] = perSecond;
    return column;
  });
  return { flows: answer.flows.map((f) => (f.measure === 'replies' ? `${f.id} (replies)` : f.id)), data: [xs, ...series] as uPlot.AlignedData };
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
  private throughputLoading = false;
  private coresLoading = false;
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
      h('div', { class: 'charts' }, h('div', { class: 'chart-card wide' }, h('h3', {}, 'Flow throughput from the log (messages per virtual second the receiver got; a ping: replies)'), this.throughputBox), h('div', { class: 'chart-card wide' }, h('h3', {}, 'vMotion pre-copy rounds (pages per round; solid sent, dashed dirtied)'), h('div', { class: 'vmotion-body' }, this.vmotionBox, this.roundsTable)), h('div', { class: 'chart-card' }, h('h3', {}, 'Cores used by networking'), this.coresBox)),
    );
    store.on('lab', () => this.update());
    store.on('cursor', () => this.refresh());
    // Live, the log grows: read it again every second while the tab is shown.
    window.setInterval(() => {
      if (this.store.live && this.visible && this.store.status && ['starting', 'running', 'paused'].includes(this.store.status.state)) this.refresh();
    }, 1000);
    new ResizeObserver(() => this.resize()).observe(root);
  }

  show(): void {
    this.visible = true;
    this.flowsKey = '';
    this.coresKey = '';
    this.roundsKey = '';
    this.roundsDataKey = '';
    this.throughput?.destroy();
    this.throughput = null;
    this.cores?.destroy();
    this.cores = null;
    this.update();
    this.refresh();
  }

  private resize(): void {
    const width = (box: HTMLElement): number => Math.max(200, box.clientWidth - 8);
    this.throughput?.setSize({ width: width(this.throughputBox), height: 190 });
    this.cores?.setSize({ width: width(this.coresBox), height: 170 });
    this.rounds?.setSize({ width: width(this.vmotionBox), height: 230 });
  }

  private update(): void {
    if (!this.visible) return;
    this.updateVmotion();
  }

  /** Fetches the throughput and the cores (one request at a time each) and draws them. */
  private refresh(): void {
    if (!this.visible || !this.store.run) return;
    if (!this.throughputLoading) {
      this.throughputLoading = true;
      api
        .throughput(BUCKET_MS, this.store.cursor ?? undefined)
        .then((answer) => this.drawThroughput(answer))
        .catch((error: unknown) => replace(this.throughputBox, h('p', { class: 'empty error' }, `Throughput could not be read: ${error instanceof Error ? error.message : String(error)}`)))
        .finally(() => (this.throughputLoading = false));
    }
    if (!this.coresLoading) {
      this.coresLoading = true;
      api
        .cores()
        .then((answer) => this.drawCores(answer))
        .catch(() => undefined)
        .finally(() => (this.coresLoading = false));
    }
  }

  private drawThroughput(answer: ThroughputResponse): void {
    if (!this.visible) return;
    const { flows, data } = alignThroughput(answer);
    if (flows.length === 0 || data[0].length === 0) {
      this.throughput?.destroy();
      this.throughput = null;
      this.flowsKey = '';
      replace(this.throughputBox, h('p', { class: 'empty' }, flows.length === 0 ? 'No flows yet: start one under Actions' : 'Waiting for the first messages'));
      return;
    }
    // Live: the recent past; a recording: from the start to the cursor.
    const until = answer.untilNs / 1e9;
    const from = this.store.live ? Math.max(0, until - LIVE_WINDOW_NS / 1e9) : 0;
    this.throughputBox.dataset.from = String(from);
    this.throughputBox.dataset.until = String(until);
    this.throughputBox.dataset.buckets = String(data[0].length);
    const key = flows.join(',');
    if (this.throughput && key === this.flowsKey) {
      this.throughput.batch(() => {
        this.throughput!.setData(data, false);
        this.throughput!.setScale('x', { min: from, max: Math.max(until, from + 0.001) });
      });
      return;
    }
    this.throughput?.destroy();
    this.flowsKey = key;
    this.throughputBox.replaceChildren();
    this.throughput = new uPlot(
      {
        width: Math.max(200, this.throughputBox.clientWidth - 8),
        height: 190,
        // A burst after an outage (TCP catching up) reaches many times the steady rate: an arcsinh
        // scale keeps both the burst and the zeros of the outage readable.
        scales: { x: { time: false, auto: false, range: () => [from, Math.max(until, from + 0.001)] }, y: { distr: 4, asinh: 10, range: (_u, _min, max) => [0, decadeAbove(max)] } },
        series: [{ label: 'virtual s' }, ...flows.map((f, i) => ({ label: f, stroke: PALETTE[i % PALETTE.length]!, width: 1.5, spanGaps: false, points: { show: false } }))],
        axes: [
          { ...AXIS, label: `virtual time (s), ${BUCKET_MS} ms buckets` },
          { ...AXIS, label: 'msg/s', size: 56, splits: (_u, _axis, _min, max) => decades(max), values: (_u, splits) => splits.map(pagesLabel) },
        ],
        legend: { live: true },
      },
      data,
      this.throughputBox,
    );
    this.throughput.setScale('x', { min: from, max: Math.max(until, from + 0.001) });
  }

  private drawCores(answer: CoresResponse): void {
    if (!this.visible) return;
    const costs = answer.nodes;
    if (costs.length === 0) {
      this.cores?.destroy();
      this.cores = null;
      this.coresKey = '';
      replace(this.coresBox, h('p', { class: 'empty' }, this.store.live ? 'Asking the hosts and DPUs for the CPU time they spent so far…' : 'A recording has the cores each node reported when the run ended: none here.'));
      return;
    }
    const names = costs.map((c) => `${c.node} (${c.coreType})`);
    this.coresBox.dataset.source = [...new Set(costs.map((c) => c.source))].join(',');
    const key = JSON.stringify(names);
    const data: uPlot.AlignedData = [costs.map((_, i) => i), costs.map((c) => c.coresUsed)];
    if (this.cores && key === this.coresKey) {
      this.cores.setData(data);
      return;
    }
    this.cores?.destroy();
    this.coresKey = key;
    this.coresBox.replaceChildren();
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
      data,
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
