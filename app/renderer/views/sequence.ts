/// <reference lib="dom" />
/**
 * The sequence chart: a window of consecutive events, one lane per node, in the order the
 * controller recorded them, with an arrow from each event's cause to it (a frame sent by one node
 * to what it made another node do, an input to its effects).
 */
import { api } from '../api.js';
import { h, replace, svg } from '../dom.js';
import { eventSummary, kindTone, vtime } from '../format.js';
import type { ClusterEvent } from '../../../shared/state/cluster-state.js';
import type { Store } from '../store.js';

const LABEL_WIDTH = 104;
const LANE_HEIGHT = 30;
const AXIS_HEIGHT = 34;
const MIN_COLUMN = 24;
/** Advance of one character of the monospaced labels (styles.css: 10px axis, 9px events), rounded up. */
const AXIS_CHAR = 6.2;
const EVENT_CHAR = 5.6;
/** Least room between two labels. */
const LABEL_GAP = 6;

function laneOrder(store: Store, events: readonly ClusterEvent[]): string[] {
  const rank = new Map<string, number>();
  rank.set('controller', 0);
  const kinds = { manager: 1, host: 2, dpu: 3, switch: 4 } as const;
  for (const n of store.run?.topology.nodes ?? []) rank.set(n.id, kinds[n.kind]);
  const lanes = [...new Set(events.map((e) => e.node))];
  return lanes.sort((a, b) => (rank.get(a) ?? 9) - (rank.get(b) ?? 9) || (a < b ? -1 : a > b ? 1 : 0));
}

/** Draws a window of events as an SVG sequence chart; `onPick` gets a clicked event. */
export function sequenceSvg(store: Store, events: readonly ClusterEvent[], width: number, selected: number | null, onPick: (e: ClusterEvent) => void): SVGSVGElement {
  const lanes = laneOrder(store, events);
  const laneY = new Map(lanes.map((lane, i) => [lane, AXIS_HEIGHT + i * LANE_HEIGHT + LANE_HEIGHT / 2]));
  const column = Math.max(MIN_COLUMN, (width - LABEL_WIDTH - 16) / Math.max(1, events.length));
  const total = LABEL_WIDTH + 16 + column * events.length;
  const height = AXIS_HEIGHT + lanes.length * LANE_HEIGHT + 8;
  const x = (i: number): number => LABEL_WIDTH + 8 + column * i + column / 2;
  const index = new Map(events.map((e, i) => [e.seq, i]));
  const root = svg('svg', { width: total, height, class: 'sequence', role: 'img', 'aria-label': `Sequence chart of events ${events[0]?.seq ?? 0} to ${events[events.length - 1]?.seq ?? 0}` });
  root.appendChild(
    svg(
      'defs',
      {},
      svg('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: '9', refY: '5', markerWidth: '7', markerHeight: '7', orient: 'auto-start-reverse' }, svg('path', { d: 'M 0 0 L 10 5 L 0 10 z', class: 'arrowhead' })),
    ),
  );
  lanes.forEach((lane) => {
    const y = laneY.get(lane)!;
    root.appendChild(svg('line', { x1: LABEL_WIDTH, x2: total, y1: y, y2: y, class: 'lane' }));
    const label = svg('text', { x: LABEL_WIDTH - 10, y: y + 4, class: 'lane-label', 'text-anchor': 'end' });
    label.textContent = lane;
    root.appendChild(label);
  });
  // Time axis: a tick wherever the virtual time changes; a label only where it says something new
  // (two times can read alike at the format's precision) and has room.
  let axisFree = LABEL_WIDTH;
  let lastTime = -1;
  let lastText = '';
  events.forEach((e, i) => {
    if (e.vtime === lastTime) return;
    lastTime = e.vtime;
    const cx = x(i);
    root.appendChild(svg('line', { x1: cx, x2: cx, y1: AXIS_HEIGHT - 8, y2: height - 4, class: 'tick' }));
    const text = vtime(e.vtime);
    const half = (text.length * AXIS_CHAR) / 2;
    if (text === lastText || cx - half < axisFree) return;
    lastText = text;
    axisFree = cx + half + LABEL_GAP;
    const t = svg('text', { x: cx, y: 14, class: 'axis-label', 'text-anchor': 'middle' });
    t.textContent = text;
    root.appendChild(t);
  });
  // Cause arrows under the dots.
  events.forEach((e, i) => {
    if (e.cause === null) return;
    const from = index.get(e.cause);
    const y2 = laneY.get(e.node)!;
    if (from === undefined) {
      root.appendChild(svg('line', { x1: x(i) - Math.min(column * 0.8, 18), y1: y2 - 12, x2: x(i) - 5, y2: y2 - 3, class: 'cause outside', 'marker-end': 'url(#arrow)' }));
      return;
    }
    const cause = events[from]!;
    const x1 = x(from);
    const y1 = laneY.get(cause.node)!;
    const x2 = x(i);
    const d = y1 === y2 ? `M ${x1} ${y1 - 5} Q ${(x1 + x2) / 2} ${y1 - 22} ${x2 - 4} ${y2 - 5}` : `M ${x1} ${y1} L ${x2} ${y2 + (y2 > y1 ? -6 : 6)}`;
    root.appendChild(svg('path', { d, class: `cause ${kindTone(cause.kind)}`, 'marker-end': 'url(#arrow)' }));
  });
  const laneFree = new Map<string, number>();
  events.forEach((e, i) => {
    const dot = svg('circle', { cx: x(i), cy: laneY.get(e.node)!, r: e.seq === selected ? 7 : 5, class: `event ${kindTone(e.kind)}${e.seq === selected ? ' selected' : ''}`, 'data-seq': e.seq });
    const title = svg('title');
    title.textContent = `#${e.seq} ${vtime(e.vtime)} ${e.node} ${e.kind}\n${eventSummary(e)}`;
    dot.appendChild(title);
    dot.addEventListener('click', () => onPick(e));
    root.appendChild(dot);
    // A kind label above its dot when it fits before the next label of its lane; the others are
    // in the dot's tooltip.
    const left = x(i) - 4;
    const width = e.kind.length * EVENT_CHAR;
    if (left >= (laneFree.get(e.node) ?? 0) && left + width <= total) {
      laneFree.set(e.node, left + width + LABEL_GAP);
      const label = svg('text', { x: left, y: laneY.get(e.node)! - 9, class: 'event-label' });
      label.textContent = e.kind;
      root.appendChild(label);
    }
  });
  return root;
}

/** The sequence chart view: the window around the selected event, or the latest events. */
export class SequenceView {
  private size = 40;
  private frames = true;
  private events: ClusterEvent[] = [];
  private start: number | null = null;
  private readonly chart: HTMLElement;
  private readonly caption: HTMLElement;
  private generation = 0;
  /** Why the last load failed, shown instead of the chart. */
  private failure: string | null = null;
  visible = false;

  constructor(
    root: HTMLElement,
    private readonly store: Store,
    private readonly onPick: (event: ClusterEvent) => void,
  ) {
    const sizeSelect = h('select', { 'aria-label': 'Events in the window', onchange: (e: Event) => ((this.size = Number((e.target as HTMLSelectElement).value)), void this.load()) }, [20, 40, 80, 160].map((n) => h('option', { value: n, selected: n === this.size }, `${n} events`)));
    const frames = h('input', { id: 'sequence-frames', type: 'checkbox', checked: true, onchange: (e: Event) => ((this.frames = (e.target as HTMLInputElement).checked), void this.load()) });
    this.caption = h('span', { class: 'muted' });
    this.chart = h('div', { class: 'sequence-wrap', id: 'sequence-chart' });
    replace(
      root,
      h(
        'div',
        { class: 'toolbar' },
        h('button', { class: 'secondary', title: 'Earlier events', onclick: () => this.shift(-1) }, '◀ earlier'),
        h('button', { class: 'secondary', title: 'Later events', onclick: () => this.shift(1) }, 'later ▶'),
        h('button', { class: 'secondary', title: 'The latest events (or the cursor)', onclick: () => ((this.start = null), void this.load()) }, 'latest'),
        sizeSelect,
        h('label', {}, frames, ' frames'),
        this.caption,
      ),
      this.chart,
    );
    store.on('selection', () => {
      const s = this.store.selection;
      if (s?.type === 'event') {
        this.start = Math.max(0, s.event.seq - Math.floor(this.size / 2));
        void this.load();
      }
    });
    store.on('cursor', () => {
      this.start = null;
      void this.load();
    });
  }

  /** Called when the tab shows: draws with the width it now has. */
  show(): void {
    this.visible = true;
    void this.load();
  }

  private shift(direction: number): void {
    const first = this.events[0]?.seq ?? 0;
    this.start = Math.max(0, first + direction * Math.floor(this.size / 2));
    void this.load();
  }

  async load(): Promise<void> {
    if (!this.visible || !this.store.run) return;
    const generation = ++this.generation;
    // Frames hidden: ask for every kind but frame.tx, however many kinds the run has.
    const hide = this.frames ? {} : { notKind: ['frame.tx'] };
    try {
      const page =
        this.start !== null
          ? await api.events({ from: this.start, limit: this.size, ...hide })
          : await api.events({ order: 'desc', limit: this.size, ...(this.store.cursor !== null ? { to: this.store.cursor + 1 } : {}), ...hide });
      if (generation !== this.generation) return;
      this.events = page.events;
      this.failure = null;
    } catch (error) {
      if (generation !== this.generation) return;
      this.failure = error instanceof Error ? error.message : String(error);
    }
    this.draw();
  }

  private draw(): void {
    const selection = this.store.selection;
    const selected = selection?.type === 'event' ? selection.event.seq : this.store.cursor;
    const first = this.events[0];
    const last = this.events[this.events.length - 1];
    this.caption.textContent = first && last ? `events ${first.seq}–${last.seq}, ${vtime(first.vtime)} to ${vtime(last.vtime)}` : 'no events';
    if (this.failure !== null) {
      replace(this.chart, h('p', { class: 'empty error', id: 'sequence-error' }, `The events could not be read: ${this.failure}`));
      return;
    }
    replace(this.chart, this.events.length === 0 ? h('p', { class: 'empty' }, 'No events yet') : sequenceSvg(this.store, this.events, this.chart.clientWidth || 900, selected, this.onPick));
  }
}
