/// <reference lib="dom" />
/**
 * Charts (uPlot): each flow's throughput from the deltas of its reports, the cores each node
 * spent on networking (end-of-run cost reports) and a place for vMotion pre-copy rounds.
 */
import uPlot from 'uplot';
import { h, replace } from '../dom.js';
import type { FlowView, LabState } from '../model/lab-state.js';
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
export function throughputData(lab: LabState): { flows: string[]; data: uPlot.AlignedData } {
  const flows = Object.values(lab.flows).sort((a, b) => (a.id < b.id ? -1 : 1));
  const rates = flows.map(flowRates);
  const xs = [...new Set(rates.flatMap((r) => r.map(([x]) => x)))].sort((a, b) => a - b);
  const series = rates.map((r) => {
    const byX = new Map(r);
    return xs.map((x) => byX.get(x) ?? null);
  });
  return { flows: flows.map((f) => f.id), data: [xs, ...series] as uPlot.AlignedData };
}

const AXIS = { stroke: '#8aa0b8', grid: { stroke: '#1e2a3a', width: 1 }, ticks: { stroke: '#1e2a3a' } };

/** The charts tab. */
export class ChartsView {
  private throughput: uPlot | null = null;
  private cores: uPlot | null = null;
  private flowsKey = '';
  private coresKey = '';
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
    this.vmotionBox = h('div', { class: 'chart placeholder', id: 'chart-vmotion' });
    replace(
      root,
      h('div', { class: 'charts' }, h('div', { class: 'chart-card wide' }, h('h3', {}, 'Flow throughput (messages per virtual second)'), this.throughputBox), h('div', { class: 'chart-card' }, h('h3', {}, 'Cores used by networking'), this.coresBox), h('div', { class: 'chart-card' }, h('h3', {}, 'vMotion pre-copy rounds'), this.vmotionBox)),
    );
    store.on('lab', () => this.update());
    new ResizeObserver(() => this.resize()).observe(root);
  }

  show(): void {
    this.visible = true;
    this.flowsKey = '';
    this.coresKey = '';
    this.update();
  }

  private resize(): void {
    const width = (box: HTMLElement): number => Math.max(200, box.clientWidth - 8);
    this.throughput?.setSize({ width: width(this.throughputBox), height: 190 });
    this.cores?.setSize({ width: width(this.coresBox), height: 170 });
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
    const rounds = Object.entries(this.store.lab.kinds).filter(([k]) => k.startsWith('vmotion.'));
    const count = rounds.reduce((n, [, c]) => n + c, 0);
    replace(this.vmotionBox, h('p', { class: 'empty' }, count === 0 ? 'No vMotion in this run. Pre-copy rounds (pages sent, pages dirtied, per round) will be charted here.' : `${count} vMotion events (${rounds.map(([k]) => k).join(', ')}); the round chart needs their payloads, which this version does not chart yet.`));
  }
}
