/// <reference lib="dom" />
/**
 * The header: what runs, its virtual clock and the time control (pause, step one instant,
 * resume, speed, run until a time or an event kind). For a recording, the timeline scrubber:
 * seek to any event, step event by event, jump to a seq, a time or the next event of a kind.
 */
import { api } from '../api.js';
import { h, pill, replace } from '../dom.js';
import { parseTime, vtime } from '../format.js';
import type { Store } from '../store.js';

const SPEEDS: Array<[string, number]> = [
  ['0.01×', 0.01],
  ['0.1×', 0.1],
  ['0.25×', 0.25],
  ['0.5×', 0.5],
  ['1×', 1],
  ['2×', 2],
  ['5×', 5],
  ['10×', 10],
  ['max', 0],
];

const STATE_TONES: Record<string, string> = { running: 'ok', paused: 'warn', starting: 'info', completed: 'muted', interrupted: 'warn', failed: 'bad', recorded: 'info' };

/** The desktop shell's bridge, when the page runs in it. */
interface DesktopBridge {
  saveReport(text: string): Promise<boolean>;
  openDatabase(): Promise<boolean>;
}

declare global {
  interface Window {
    dpulab?: DesktopBridge;
  }
}

/** The header and, for a recording, the scrubber. */
export class TimeBar {
  private readonly clockEl = h('span', { id: 'vtime', class: 'clock' }, '0.000000 s');
  private readonly stateEl = h('span', { id: 'run-state' });
  private readonly countEl = h('span', { id: 'event-count', class: 'muted' });
  private readonly messageEl = h('span', { id: 'run-message', class: 'muted' });
  /** Live: the speed the run achieves, beside the one asked for. */
  private readonly achievedEl = h('span', { id: 'achieved', class: 'muted', title: 'Virtual seconds per wall second achieved over the last two seconds' });
  private readonly controls = h('div', { class: 'controls' });
  private readonly scrubber: HTMLInputElement = h('input', { id: 'scrubber', type: 'range', min: '0', max: '0', value: '0', step: '1', 'aria-label': 'Event' });
  private readonly cursorLabel = h('span', { id: 'cursor-label', class: 'clock small' });
  private seekTimer: number | undefined;

  constructor(
    private readonly header: HTMLElement,
    private readonly replayBar: HTMLElement,
    private readonly store: Store,
    private readonly onSeek: (seq: number) => void,
    private readonly report: () => string,
  ) {
    store.on('run', () => this.build());
    store.on('status', () => this.update());
    store.on('cursor', () => this.updateCursor());
    store.on('lab', () => this.update());
    store.on('connection', () => this.header.classList.toggle('disconnected', !store.connected));
  }

  private build(): void {
    const run = this.store.run!;
    const info = run.run;
    const desktop = window.dpulab;
    replace(
      this.header,
      h('div', { class: 'brand' }, h('img', { src: 'favicon.svg', alt: '', width: 22, height: 22 }), 'dpulab'),
      h('span', { id: 'mode-badge', class: `badge ${run.mode}` }, run.mode === 'live' ? 'LIVE' : 'REPLAY'),
      h('div', { class: 'run-title', title: info.db }, h('strong', {}, info.topology), ` · ${info.scenario ?? 'no scenario'} · seed ${info.seed} · ${info.runMode}`),
      this.clockEl,
      this.stateEl,
      this.controls,
      h('div', { class: 'spacer' }),
      this.countEl,
      desktop ? h('button', { class: 'secondary', onclick: () => void desktop.openDatabase() }, 'Open recording…') : null,
      h('button', { class: 'secondary', id: 'save-report', onclick: () => void this.saveReport() }, 'Report'),
    );
    if (run.mode === 'live') this.buildLive();
    else this.buildReplay();
    this.update();
  }

  private async saveReport(): Promise<void> {
    const text = this.report();
    if (window.dpulab) {
      await window.dpulab.saveReport(text);
      return;
    }
    const url = URL.createObjectURL(new Blob([text], { type: 'text/markdown' }));
    const a = h('a', { href: url, download: `${this.store.run?.run.id ?? 'dpulab'}-report.md` });
    a.click();
    URL.revokeObjectURL(url);
  }

  private async control(body: Parameters<typeof api.control>[0]): Promise<void> {
    try {
      this.store.setStatus(await api.control(body));
    } catch (error) {
      this.messageEl.textContent = error instanceof Error ? error.message : String(error);
    }
  }

  private buildLive(): void {
    this.replayBar.hidden = true;
    const speed = h(
      'select',
      { id: 'speed', 'aria-label': 'Speed', onchange: (e: Event) => void this.control({ op: 'speed', speed: Number((e.target as HTMLSelectElement).value) }) },
      SPEEDS.map(([label, value]) => h('option', { value, selected: value === (this.store.status?.speed ?? 1) }, label)),
    );
    const until = h('input', { id: 'until', type: 'text', placeholder: '2s or dpu.state', size: 13, 'aria-label': 'Run until a time or an event kind' });
    const runUntil = (): void => {
      const text = until.value.trim();
      if (text === '') return;
      const atNs = parseTime(text);
      void this.control(atNs !== null ? { op: 'until', atNs } : { op: 'until', kind: text });
    };
    replace(
      this.controls,
      h('button', { id: 'pause', title: 'Pause', onclick: () => void this.control({ op: 'pause' }) }, '❚❚ Pause'),
      h('button', { id: 'step', title: 'Handle the next instant of virtual time, then pause', onclick: () => void this.control({ op: 'step' }) }, 'Step ›|'),
      h('button', { id: 'resume', title: 'Resume', onclick: () => void this.control({ op: 'resume' }) }, '▶ Resume'),
      speed,
      this.achievedEl,
      h(
        'form',
        {
          class: 'until',
          onsubmit: (e: Event) => {
            e.preventDefault();
            runUntil();
          },
        },
        until,
        h('button', { id: 'until-go', type: 'submit', class: 'secondary' }, 'Run until'),
      ),
      this.messageEl,
    );
  }

  private buildReplay(): void {
    this.replayBar.hidden = false;
    const jump = h('input', { id: 'jump', type: 'text', placeholder: 'seq, time (1.2s) or next kind', size: 24, 'aria-label': 'Jump to' });
    const step = (delta: number): void => this.seek(Math.max(0, Math.min(this.total() - 1, (this.store.cursor ?? 0) + delta)));
    this.scrubber.max = String(Math.max(0, this.total() - 1));
    this.scrubber.oninput = () => {
      window.clearTimeout(this.seekTimer);
      const seq = Number(this.scrubber.value);
      this.cursorLabel.textContent = `event ${seq}`;
      this.seekTimer = window.setTimeout(() => this.onSeek(seq), 60);
    };
    replace(
      this.controls,
      h('span', { class: 'muted' }, 'recorded run: seek below'),
    );
    replace(
      this.replayBar,
      h('button', { id: 'seek-first', class: 'secondary', title: 'First event', onclick: () => this.seek(0) }, '|◀'),
      h('button', { id: 'seek-prev', class: 'secondary', title: 'Previous event', onclick: () => step(-1) }, '◀'),
      h('button', { id: 'seek-next', class: 'secondary', title: 'Next event', onclick: () => step(1) }, '▶'),
      h('button', { id: 'seek-last', class: 'secondary', title: 'Last event', onclick: () => this.seek(this.total() - 1) }, '▶|'),
      this.scrubber,
      this.cursorLabel,
      h(
        'form',
        {
          class: 'jump',
          onsubmit: (e: Event) => {
            e.preventDefault();
            void this.jump(jump.value.trim());
          },
        },
        jump,
        h('button', { id: 'jump-go', type: 'submit', class: 'secondary' }, 'Go'),
      ),
      this.messageEl,
    );
  }

  private total(): number {
    return this.store.status?.events ?? 0;
  }

  private seek(seq: number): void {
    this.scrubber.value = String(seq);
    this.onSeek(seq);
  }

  /** Jumps to a seq (`1234`), the first event at or after a time (`1.5s`), or the next event of a kind. */
  private async jump(text: string): Promise<void> {
    this.messageEl.textContent = '';
    if (text === '') return;
    if (/^\d+$/.test(text)) {
      this.seek(Math.min(Number(text), this.total() - 1));
      return;
    }
    const atNs = parseTime(text);
    const page = atNs !== null ? await api.events({ fromNs: atNs, limit: 1 }) : await api.events({ from: (this.store.cursor ?? -1) + 1, kind: [text], limit: 1 }).catch(() => null);
    const found = page?.events[0];
    if (found) this.seek(found.seq);
    else this.messageEl.textContent = `No event ${atNs !== null ? `at or after ${vtime(atNs)}` : `of kind ${text} after the cursor`}`;
  }

  private updateCursor(): void {
    const seq = this.store.cursor;
    if (seq === null) return;
    this.scrubber.value = String(seq);
    this.cursorLabel.textContent = `event ${seq} of ${this.total()}`;
  }

  private update(): void {
    const status = this.store.status;
    if (!status) return;
    const live = this.store.live;
    this.clockEl.textContent = vtime(live ? status.vtime : this.store.lab.vtime);
    replace(this.stateEl, pill(status.state, STATE_TONES[status.state] ?? 'muted'));
    this.countEl.textContent = live ? `${status.events} events` : `${status.events} events recorded`;
    if (live) {
      const ended = ['completed', 'interrupted', 'failed'].includes(status.state);
      const byId = (id: string): HTMLButtonElement | null => this.controls.querySelector(`#${id}`);
      byId('pause')!.disabled = ended || status.paused;
      byId('resume')!.disabled = ended || !status.paused;
      byId('step')!.disabled = ended || !status.paused;
      if (status.message) this.messageEl.textContent = status.message;
      if (status.until) this.messageEl.textContent = `running until ${status.until.atNs !== undefined ? vtime(status.until.atNs) : status.until.kind}`;
      this.messageEl.title = this.messageEl.textContent ?? '';
      this.achievedEl.textContent = status.achieved === null ? '' : `achieved ${status.achieved}×`;
    } else {
      this.scrubber.max = String(Math.max(0, status.events - 1));
    }
  }
}
