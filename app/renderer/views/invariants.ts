/// <reference lib="dom" />
/**
 * The Invariants tab: what the invariant checkers say about the run (`GET /api/invariants`), one
 * row per violation with the event that broke the invariant. Choosing a row selects that event
 * and, in a recording, moves the cursor there. Live, the list refreshes while the tab is shown.
 */
import { api } from '../api.js';
import { h, replace } from '../dom.js';
import { vtime } from '../format.js';
import type { ClusterEvent } from '../../../shared/state/cluster-state.js';
import type { InvariantsResponse } from '../../common/protocol.js';
import type { Store } from '../store.js';

/** How often a shown tab asks again during a live run. */
const REFRESH_MS = 2000;

/** The invariants view. */
export class InvariantsView {
  private timer: number | undefined;
  private generation = 0;

  constructor(
    private readonly root: HTMLElement,
    private readonly store: Store,
    private readonly onPick: (event: ClusterEvent) => void,
  ) {
    replace(root, h('p', { class: 'invariants-meta' }, 'Checking…'));
  }

  /** Called when the tab is shown or hidden. */
  set visible(shown: boolean) {
    window.clearInterval(this.timer);
    this.timer = undefined;
    if (!shown) return;
    void this.refresh();
    if (this.store.live) this.timer = window.setInterval(() => void this.refresh(), REFRESH_MS);
  }

  private async refresh(): Promise<void> {
    const generation = ++this.generation;
    let answer: InvariantsResponse;
    try {
      answer = await api.invariants();
    } catch (error) {
      replace(this.root, h('p', { class: 'invariants-meta' }, `Cannot check the invariants: ${error instanceof Error ? error.message : String(error)}`));
      return;
    }
    if (generation !== this.generation) return;
    this.render(answer);
    if (answer.final) {
      window.clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  private render(answer: InvariantsResponse): void {
    const broken = new Set(answer.violations.map((v) => v.invariant));
    const summary =
      answer.violations.length === 0
        ? `All ${answer.invariants.length} invariants hold over ${answer.checked} events${answer.final ? '' : ' so far'}.`
        : `${broken.size} of ${answer.invariants.length} invariants broken, ${answer.violations.length} violations in ${answer.checked} events${answer.final ? '' : ' so far'}.`;
    const rows = answer.violations.map((v) =>
      h(
        'li',
        { class: 'violation', 'data-invariant': v.invariant, 'data-seq': v.event.seq },
        h('button', { type: 'button', class: 'link', title: `Go to event ${v.event.seq}`, onclick: () => void this.pick(v.event.seq) }, `#${v.event.seq} ${vtime(v.event.vtime)} ${v.event.node} ${v.event.kind}`),
        ' ',
        h('strong', {}, v.invariant),
        h('div', { class: 'violation-message' }, v.message),
      ),
    );
    const held = answer.invariants.filter((i) => !broken.has(i.id));
    replace(
      this.root,
      h('p', { class: 'invariants-meta', id: 'invariants-summary' }, summary),
      h('ol', { class: 'violations', id: 'violation-list' }, rows),
      h('details', {}, h('summary', {}, `${held.length} holding`), h('ul', {}, held.map((i) => h('li', { title: i.meaning }, i.id)))),
    );
  }

  /** Selects the event that broke an invariant (and seeks there in a recording). */
  private async pick(seq: number): Promise<void> {
    const page = await api.events({ from: seq, to: seq + 1, limit: 1 });
    const event = page.events[0];
    if (event) this.onPick(event);
  }
}
