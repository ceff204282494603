/// <reference lib="dom" />
/**
 * The event list: the latest events as they stream in (live) or the events up to the cursor
 * (replay), filtered by kind prefix, node, virtual-time range and the protocol a frame carries.
 * Clicking an event selects it (and, in a recording, moves the cursor there). Live with "follow"
 * off the list holds still: rows, selection and scroll stay until follow is ticked again. pcie
 * housekeeping (heartbeats, doorbells, ring completions and refills: most frames of a run) is
 * left out unless asked for.
 */
import { api } from '../api.js';
import { h, replace } from '../dom.js';
import { eventSummary, kindTone, parseTime, vtime } from '../format.js';
import { kindMatches } from '../../../shared/state/kinds.js';
import type { ClusterEvent } from '../../../shared/state/cluster-state.js';
import type { Store } from '../store.js';

/** The protocol a frame carries, as the server decoded it (`TCP`, `GENEVE/ARP`); '' for other events. */
export function protocolOf(e: ClusterEvent): string {
  if (e.kind !== 'frame.tx' || e.payload === null || typeof e.payload !== 'object') return '';
  const p = (e.payload as Record<string, unknown>).protocol;
  return typeof p === 'string' ? p : '';
}

/** A pcie housekeeping frame: a heartbeat, doorbell, TX completion or RX refill. */
export function isHousekeeping(e: ClusterEvent): boolean {
  return e.kind === 'frame.tx' && e.payload !== null && typeof e.payload === 'object' && (e.payload as Record<string, unknown>).housekeeping === true;
}

/** As the server matches: `GENEVE/TCP` answers to `geneve/tcp`, `geneve` and `tcp`. */
function protocolMatches(protocol: string, wanted: readonly string[]): boolean {
  const name = protocol.toLowerCase();
  return wanted.some((w) => w === name || name.split('/').includes(w));
}

/** Rows shown at most. */
const ROWS = 300;

/** The filter the user set. */
interface Filter {
  kinds: string[];
  node: string | null;
  /** Frame protocols, lower case (`tcp`, `arp`, `geneve`). */
  protocols: string[];
  fromNs: number | null;
  toNs: number | null;
}

/** The event list view. */
export class EventsView {
  private filter: Filter = { kinds: [], node: null, protocols: [], fromNs: null, toNs: null };
  private rows: ClusterEvent[] = [];
  private readonly body: HTMLTableSectionElement;
  private readonly meta: HTMLElement;
  private readonly wrap: HTMLElement;
  private readonly kindInput: HTMLInputElement;
  private readonly nodeSelect: HTMLSelectElement;
  private readonly fromInput: HTMLInputElement;
  private readonly toInput: HTMLInputElement;
  private readonly follow: HTMLInputElement;
  private readonly housekeeping: HTMLInputElement;
  private readonly protocolInput: HTMLInputElement;
  private readonly protocolList: HTMLDataListElement;
  private readonly protocolsSeen = new Set<string>();
  /** Events streamed while the list held still (follow off). */
  private held = 0;
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
    this.protocolInput = h('input', { id: 'filter-protocol', type: 'text', placeholder: 'protocol: tcp, arp', list: 'known-protocols', size: 14, 'aria-label': 'Protocol filter' });
    this.protocolList = h('datalist', { id: 'known-protocols' });
    this.follow = h('input', { id: 'follow', type: 'checkbox', checked: true, onchange: () => this.onFollow() });
    this.housekeeping = h('input', { id: 'show-housekeeping', type: 'checkbox', onchange: () => void this.fetch() });
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
      this.protocolInput,
      this.protocolList,
      this.fromInput,
      this.toInput,
      h('button', { type: 'submit', id: 'filter-apply' }, 'Filter'),
      h('button', { type: 'button', id: 'filter-clear', class: 'secondary', onclick: () => this.clear() }, 'Clear'),
      h('label', { class: 'follow', title: 'Heartbeats, doorbells, TX completions and RX refills on the pcie wires' }, this.housekeeping, ' pcie housekeeping'),
      h('label', { class: 'follow' }, this.follow, ' follow'),
    );
    this.meta = h('div', { class: 'events-meta' });
    this.body = h('tbody', {});
    this.wrap = h('div', { class: 'events-wrap' }, h('table', { class: 'events', id: 'event-list' }, h('thead', {}, h('tr', {}, h('th', {}, 'seq'), h('th', {}, 'time'), h('th', {}, 'node'), h('th', {}, 'kind'), h('th', {}, 'protocol'), h('th', {}, 'what'))), this.body));
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
    return f.kinds.length > 0 || f.node !== null || f.protocols.length > 0 || f.fromNs !== null || f.toNs !== null;
  }

  /** Whether the list shows an event at all, whatever the filter: housekeeping only when asked. */
  private shown(e: ClusterEvent): boolean {
    return this.housekeeping.checked || !isHousekeeping(e);
  }

  private matches(e: ClusterEvent): boolean {
    const f = this.filter;
    if (!this.shown(e)) return false;
    if (f.protocols.length > 0 && !protocolMatches(protocolOf(e), f.protocols)) return false;
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
      protocols: this.protocolInput.value
        .split(/\s*,\s*/)
        .map((p) => p.trim().toLowerCase())
        .filter((p) => p !== ''),
      fromNs,
      toNs,
    };
    void this.fetch();
  }

  private clear(): void {
    this.kindInput.value = '';
    this.nodeSelect.value = '';
    this.protocolInput.value = '';
    this.fromInput.value = '';
    this.toInput.value = '';
    this.apply();
  }

  /** Loads the rows from the server: the last matches (before the cursor in a recording). */
  private async fetch(): Promise<void> {
    if (!this.store.run) return;
    const live = this.store.live;
    if (live && !this.filtered()) {
      this.rows = this.store.tail.filter((e) => this.shown(e)).slice(-ROWS);
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
        ...(f.protocols.length > 0 ? { protocol: f.protocols } : {}),
        ...(this.housekeeping.checked ? {} : { housekeeping: 0 as const }),
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

  /** Follow ticked again: catch up with the stream. */
  private onFollow(): void {
    this.held = 0;
    if (this.follow.checked) {
      this.rows = [];
      void this.fetch();
    } else {
      this.render();
    }
  }

  private onLiveEvents(): void {
    if (!this.store.live) return;
    this.learnProtocols();
    if (!this.follow.checked) {
      // Not following: the list holds still so it can be read; the meta line counts what came.
      const last = this.rows[this.rows.length - 1]?.seq ?? -1;
      this.held = Math.max(0, (this.store.tail[this.store.tail.length - 1]?.seq ?? last) - last);
      this.renderMeta();
      return;
    }
    if (!this.filtered()) {
      this.rows = this.store.tail.filter((e) => this.shown(e)).slice(-ROWS);
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

  /** The protocols frames have carried so far, offered in the protocol filter. */
  private learnProtocols(): void {
    const before = this.protocolsSeen.size;
    for (const e of this.store.tail.slice(-500)) {
      const p = protocolOf(e);
      if (p !== '') this.protocolsSeen.add(p);
    }
    if (this.protocolsSeen.size !== before) replace(this.protocolList, [...this.protocolsSeen].sort().map((p) => h('option', { value: p })));
  }

  private renderMeta(): void {
    const total = this.store.live ? this.store.status?.events ?? 0 : (this.store.cursor ?? -1) + 1;
    const skipped = this.store.live && this.store.skipped > 0 && !this.filtered() && this.follow.checked ? ` · ${this.store.skipped} streamed too fast to list (filter or pause to see every one)` : '';
    const hidden = this.housekeeping.checked ? '' : ' · pcie housekeeping hidden';
    const held = this.store.live && !this.follow.checked ? ` · held still, ${this.held} newer ${this.held === 1 ? 'event' : 'events'} not listed (tick follow)` : '';
    this.meta.textContent = `${this.rows.length} ${this.filtered() ? 'matching ' : ''}events shown of ${total}${hidden}${skipped}${held}`;
  }

  private render(): void {
    this.meta.classList.remove('error');
    this.renderMeta();
    if (this.store.live) this.learnProtocols();
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
        h('td', { class: 'protocol' }, protocolOf(e)),
        h('td', { class: 'what' }, eventSummary(e)),
      );
      fragment.appendChild(tr);
    }
    // Held still, the scroll stays where the reader left it.
    const scroll = this.wrap.scrollTop;
    this.body.replaceChildren(fragment);
    if (this.store.live ? this.follow.checked : true) this.wrap.scrollTop = this.wrap.scrollHeight;
    else this.wrap.scrollTop = scroll;
  }

  private markSelected(): void {
    const s = this.store.selection;
    const seq = s?.type === 'event' ? s.event.seq : this.store.cursor;
    for (const tr of this.body.querySelectorAll('tr')) tr.classList.toggle('selected', seq !== null && tr.getAttribute('data-seq') === String(seq));
  }
}
