/// <reference lib="dom" />
/**
 * The event list: the latest events as they stream in (live) or the events up to the cursor
 * (replay), filtered by kind prefix, node and virtual-time range. Clicking an event selects it
 * (and, in a recording, moves the cursor there).
 */
import { api } from '../api.js';
import { h, replace } from '../dom.js';
import { eventSummary, kindTone, parseTime, vtime } from '../format.js';
import { kindMatches } from '../../../shared/state/kinds.js';
import type { ClusterEvent } from '../../../shared/state/cluster-state.js';
import type { Store } from '../store.js';

/** Rows shown at most. */
const ROWS = 300;

/** The filter the user set. */
interface Filter {
  kinds: string[];
  node: string | null;
  fromNs: number | null;
  toNs: number | null;
}

/** The event list view. */
export class EventsView {
  private filter: Filter = { kinds: [], node: null, fromNs: null, toNs: null };
  private rows: ClusterEvent[] = [];
  private readonly body: HTMLTableSectionElement;
  private readonly meta: HTMLElement;
  private readonly wrap: HTMLElement;
  private readonly kindInput: HTMLInputElement;
  private readonly nodeSelect: HTMLSelectElement;
  private readonly fromInput: HTMLInputElement;
  private readonly toInput: HTMLInputElement;
  private readonly follow: HTMLInputElement;
  private readonly kindList: HTMLDataListElement;
  private renderPending = false;
  private fetchGeneration = 0;

  constructor(
    root: HTMLElement,
    private readonly store: Store,
    private readonly onPick: (event: ClusterEvent) => void,
  ) {
    this.kindInput = h('input', { id: 'filter-kind', type: 'text', placeholder: 'kind or prefix: lldp, dfw.*', list: 'known-kinds', 'aria-label': 'Kind filter' });
    this.kindList = h('datalist', { id: 'known-kinds' });
    this.nodeSelect = h('select', { id: 'filter-node', 'aria-label': 'Node filter' });
    this.fromInput = h('input', { id: 'filter-from', type: 'text', placeholder: 'from (1.5s)', size: 9, 'aria-label': 'From time' });
    this.toInput = h('input', { id: 'filter-to', type: 'text', placeholder: 'to', size: 9, 'aria-label': 'To time' });
    this.follow = h('input', { id: 'follow', type: 'checkbox', checked: true });
    const form = h(
      'form',
      {
        class: 'filters',
        onsubmit: (e: Event) => {
          e.preventDefault();
          this.apply();
        },
      },
      this.kindInput,
      this.kindList,
      this.nodeSelect,
      this.fromInput,
      this.toInput,
      h('button', { type: 'submit', id: 'filter-apply' }, 'Filter'),
      h('button', { type: 'button', id: 'filter-clear', class: 'secondary', onclick: () => this.clear() }, 'Clear'),
      h('label', { class: 'follow' }, this.follow, ' follow'),
    );
    this.meta = h('div', { class: 'events-meta' });
    this.body = h('tbody', {});
    this.wrap = h('div', { class: 'events-wrap' }, h('table', { class: 'events', id: 'event-list' }, h('thead', {}, h('tr', {}, h('th', {}, 'seq'), h('th', {}, 'time'), h('th', {}, 'node'), h('th', {}, 'kind'), h('th', {}, 'what'))), this.body));
    replace(root, form, this.meta, this.wrap);
    store.on('run', () => this.onRun());
    store.on('events', () => this.onLiveEvents());
    store.on('cursor', () => void this.fetch());
    store.on('selection', () => this.markSelected());
    store.on('lab', () => this.updateKinds());
  }

  /** Sets the kind filter from outside (e.g. a chart) and applies it. */
  showKind(pattern: string): void {
    this.kindInput.value = pattern;
    this.apply();
  }

  private onRun(): void {
    const run = this.store.run!;
    const nodes = ['controller', ...run.topology.nodes.map((n) => n.id)];
    replace(this.nodeSelect, h('option', { value: '' }, 'all nodes'), nodes.map((n) => h('option', { value: n }, n)));
    this.follow.parentElement!.hidden = !this.store.live;
    void this.fetch();
  }

  private updateKinds(): void {
    const kinds = Object.keys(this.store.lab.kinds).sort();
    if (this.kindList.childElementCount === kinds.length) return;
    replace(this.kindList, kinds.map((k) => h('option', { value: k })));
  }

  private filtered(): boolean {
    const f = this.filter;
    return f.kinds.length > 0 || f.node !== null || f.fromNs !== null || f.toNs !== null;
  }

  private matches(e: ClusterEvent): boolean {
    const f = this.filter;
    if (f.kinds.length > 0 && !f.kinds.some((k) => kindMatches(e.kind, k))) return false;
    if (f.node !== null && e.node !== f.node) return false;
    if (f.fromNs !== null && e.vtime < f.fromNs) return false;
    if (f.toNs !== null && e.vtime >= f.toNs) return false;
    return true;
  }

  private apply(): void {
    const fromNs = parseTime(this.fromInput.value);
    const toNs = parseTime(this.toInput.value);
    this.fromInput.classList.toggle('invalid', this.fromInput.value.trim() !== '' && fromNs === null);
    this.toInput.classList.toggle('invalid', this.toInput.value.trim() !== '' && toNs === null);
    this.filter = {
      kinds: this.kindInput.value
        .split(/[\s,]+/)
        .map((k) => k.trim())
        .filter((k) => k !== ''),
      node: this.nodeSelect.value === '' ? null : this.nodeSelect.value,
      fromNs,
      toNs,
    };
    void this.fetch();
  }

  private clear(): void {
    this.kindInput.value = '';
    this.nodeSelect.value = '';
    this.fromInput.value = '';
    this.toInput.value = '';
    this.apply();
  }

  /** Loads the rows from the server: the last matches (before the cursor in a recording). */
  private async fetch(): Promise<void> {
    if (!this.store.run) return;
    const live = this.store.live;
    if (live && !this.filtered()) {
      this.rows = this.store.tail.slice(-ROWS);
      this.render();
      return;
    }
    const generation = ++this.fetchGeneration;
    const f = this.filter;
    try {
      const page = await api.events({
        order: 'desc',
        limit: ROWS,
        ...(this.store.cursor !== null ? { to: this.store.cursor + 1 } : {}),
        ...(f.kinds.length > 0 ? { kind: f.kinds } : {}),
        ...(f.node !== null ? { node: [f.node] } : {}),
        ...(f.fromNs !== null ? { fromNs: f.fromNs } : {}),
        ...(f.toNs !== null ? { toNs: f.toNs } : {}),
      });
      if (generation !== this.fetchGeneration) return;
      this.rows = page.events;
      this.render();
    } catch (error) {
      if (generation !== this.fetchGeneration) return;
      this.meta.textContent = error instanceof Error ? error.message : String(error);
      this.meta.classList.add('error');
    }
  }

  private onLiveEvents(): void {
    if (!this.store.live) return;
    if (!this.filtered()) {
      this.rows = this.store.tail.slice(-ROWS);
    } else {
      const last = this.rows[this.rows.length - 1]?.seq ?? -1;
      for (const e of this.store.tail) if (e.seq > last && this.matches(e)) this.rows.push(e);
      if (this.rows.length > ROWS) this.rows.splice(0, this.rows.length - ROWS);
    }
    if (this.renderPending) return;
    this.renderPending = true;
    window.setTimeout(() => {
      this.renderPending = false;
      this.render();
    }, 250);
  }

  private render(): void {
    this.meta.classList.remove('error');
    const total = this.store.live ? this.store.status?.events ?? 0 : (this.store.cursor ?? -1) + 1;
    const skipped = this.store.live && this.store.skipped > 0 && !this.filtered() ? ` · ${this.store.skipped} streamed too fast to list (filter or pause to see every one)` : '';
    this.meta.textContent = `${this.rows.length} ${this.filtered() ? 'matching ' : ''}events shown of ${total}${skipped}`;
    const selected = this.store.selection?.type === 'event' ? this.store.selection.event.seq : this.store.cursor;
    const fragment = document.createDocumentFragment();
    for (const e of this.rows) {
      const tr = h(
        'tr',
        { 'data-seq': e.seq, 'data-kind': e.kind, 'data-node': e.node, class: e.seq === selected ? 'selected' : '', onclick: () => this.onPick(e) },
        h('td', { class: 'num' }, String(e.seq)),
        h('td', { class: 'num' }, vtime(e.vtime)),
        h('td', {}, e.node),
        h('td', {}, h('span', { class: `dot ${kindTone(e.kind)}` }), e.kind),
        h('td', { class: 'what' }, eventSummary(e)),
      );
      fragment.appendChild(tr);
    }
    this.body.replaceChildren(fragment);
    if (this.store.live ? this.follow.checked : true) this.wrap.scrollTop = this.wrap.scrollHeight;
  }

  private markSelected(): void {
    const s = this.store.selection;
    const seq = s?.type === 'event' ? s.event.seq : this.store.cursor;
    for (const tr of this.body.querySelectorAll('tr')) tr.classList.toggle('selected', seq !== null && tr.getAttribute('data-seq') === String(seq));
  }
}
