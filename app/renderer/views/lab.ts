/// <reference lib="dom" />
/**
 * The lab panel (left column): pick a lab, read its introduction, work through its tasks while
 * their checks turn green as the run's events arrive, reveal hints one at a time, start the lab
 * again (reset), and save the grade as JSON. Over a recording, picking a lab grades the recording.
 *
 * Starting or resetting a lab replaces the server's run; the page then reloads, so that every
 * view starts from the new run.
 */
import { parse } from 'yaml';
import { api, ApiCallError } from '../api.js';
import { h, replace } from '../dom.js';
import { vtime } from '../format.js';
import { renderMarkdown, renderMarkdownInline } from '../markdown.js';
import type { Store } from '../store.js';
import type { LabGrade, TaskGrade } from '../../../shared/lab/grader.js';
import type { LabInfo, LabResponse } from '../../common/lab-protocol.js';

const STATUS_TEXT: Record<TaskGrade['status'], string> = { passed: 'passed', failed: 'failed', pending: 'to do' };
const STATUS_TONE: Record<TaskGrade['status'], string> = { passed: 'ok', failed: 'bad', pending: 'info' };

async function labCall(init?: RequestInit): Promise<LabResponse> {
  const response = await fetch('/api/lab', init);
  const body = (await response.json()) as unknown;
  if (!response.ok) {
    const error = body as { error?: string; code?: string; field?: string | null };
    throw new ApiCallError(response.status, { error: error.error ?? `HTTP ${response.status}`, code: error.code ?? 'http', field: error.field ?? null });
  }
  return body as LabResponse;
}

/** The lab panel. */
export class LabPanel {
  private response: LabResponse | null = null;
  private grade: LabGrade | null = null;
  private open = false;
  /** Hints revealed per task. */
  private readonly revealed = new Map<string, number>();
  private readonly body = h('div', { class: 'lab-body' });
  private readonly toggle = h('button', { id: 'lab-toggle', class: 'secondary lab-toggle', 'aria-expanded': 'false', title: 'Labs' }, 'Labs');
  private readonly message = h('p', { id: 'lab-message', class: 'lab-message', role: 'status', 'aria-live': 'polite' });
  private readonly clockNote = h('p', { id: 'lab-clock', class: 'lab-clock muted' });

  constructor(
    private readonly root: HTMLElement,
    private readonly store: Store,
  ) {
    this.toggle.addEventListener('click', () => this.setOpen(!this.open));
    replace(root, h('div', { class: 'lab-head' }, this.toggle), this.body);
    root.hidden = false;
    this.setOpen(false);
    store.on('run', () => void this.load());
    store.on('status', () => this.updateClock());
  }

  /** A new grade from the stream. */
  update(grade: LabGrade): void {
    this.grade = grade;
    this.renderGrade();
  }

  private setOpen(open: boolean): void {
    this.open = open;
    this.toggle.setAttribute('aria-expanded', String(open));
    this.toggle.textContent = open ? '◂ Labs' : 'Labs ▸';
    this.body.hidden = !open;
    const layout = this.root.parentElement;
    layout?.classList.toggle('with-lab', open);
    layout?.classList.toggle('with-lab-collapsed', !open);
  }

  private async load(): Promise<void> {
    try {
      this.response = await labCall();
    } catch (error) {
      replace(this.body, h('p', { class: 'empty' }, `Labs are not available: ${error instanceof Error ? error.message : String(error)}`));
      return;
    }
    this.grade = this.response.grade;
    this.render();
    if (this.response.lab !== null) this.setOpen(true);
  }

  /** Starts a lab (again), then reloads the page on the new run. */
  private async start(name: string): Promise<void> {
    for (const button of this.root.querySelectorAll('button')) if (button !== this.toggle) button.disabled = true;
    this.say(this.response?.mode === 'replay' ? `Grading the recording against ${name}…` : `Starting ${name}…`, '');
    try {
      const answer = await labCall({ method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ lab: name }) });
      if (answer.mode === 'live') {
        location.reload();
        return;
      }
      this.response = answer;
      this.grade = answer.grade;
      this.render();
    } catch (error) {
      this.say(error instanceof Error ? error.message : String(error), 'error');
      for (const button of this.root.querySelectorAll('button')) button.disabled = false;
    }
  }

  private say(text: string, tone: string): void {
    this.message.textContent = text;
    this.message.className = `lab-message ${tone}`;
  }

  private render(): void {
    const r = this.response;
    if (!r) return;
    const lab = r.lab;
    const list = h(
      'ul',
      { id: 'lab-list', class: 'lab-list' },
      r.labs.map((l) =>
        h(
          'li',
          { 'data-lab': l.name, class: lab?.name === l.name ? 'current' : '' },
          h('div', {}, h('strong', {}, l.title), h('div', { class: 'muted' }, `${l.name} · ${l.tasks} tasks`)),
          h('button', { class: lab?.name === l.name ? 'secondary' : '', 'data-lab': l.name, onclick: () => void this.start(l.name) }, r.mode === 'replay' ? 'Grade' : lab?.name === l.name ? 'Restart' : 'Start'),
        ),
      ),
    );
    if (lab === null) {
      const intro = r.mode === 'replay' ? 'Grade this recording against a lab:' : 'Pick a lab. Starting one replaces the run on screen with the lab’s own, paused at 0 s.';
      replace(this.body, h('h2', { class: 'lab-title' }, 'Labs'), h('p', { class: 'muted' }, intro), this.message, list);
      return;
    }
    const actions = h(
      'div',
      { class: 'lab-actions' },
      r.mode === 'live' ? h('button', { id: 'lab-reset', class: 'secondary', title: 'Start this lab again from 0 s', onclick: () => void this.start(lab.name) }, 'Reset') : null,
      h('button', { id: 'lab-save', class: 'secondary', onclick: () => void this.save() }, 'Save grade'),
    );
    replace(
      this.body,
      h('h2', { id: 'lab-title', class: 'lab-title' }, lab.title),
      actions,
      r.mode === 'live' ? this.stepForm() : null,
      h('p', { id: 'lab-summary', class: 'lab-summary', role: 'status' }),
      this.clockNote,
      this.message,
      h('details', { class: 'lab-intro', open: true }, h('summary', {}, 'Introduction'), h('div', { class: 'markdown' }, renderMarkdown(lab.introduction))),
      h('h3', { class: 'lab-subtitle' }, 'Tasks'),
      h('ol', { id: 'lab-tasks', class: 'lab-tasks' }, lab.tasks.map((task) => this.taskItem(task))),
      h('details', { class: 'lab-others' }, h('summary', {}, 'Other labs'), list),
    );
    this.renderGrade();
    this.updateClock();
  }

  /**
   * Any scenario step, taken now: for actions the Actions tab has no form for (`vm.reserve`), or
   * to type what a lab's hint shows.
   */
  private stepForm(): HTMLElement {
    const input = h('input', { id: 'lab-step', type: 'text', placeholder: '{ action: vm.reserve, vm: app-02, memoryReservationMiB: 8192 }', 'aria-label': 'Scenario step' });
    const result = h('p', { id: 'lab-step-result', class: 'lab-step-result', role: 'status' });
    const send = async (): Promise<void> => {
      result.className = 'lab-step-result';
      let record: unknown;
      try {
        record = parse(input.value);
      } catch (error) {
        record = error;
      }
      if (record === null || typeof record !== 'object' || Array.isArray(record) || record instanceof Error) {
        result.textContent = 'Write one step as a YAML mapping: { action: note, text: hello }';
        result.classList.add('error');
        return;
      }
      if (Object.hasOwn(record, 'at')) {
        result.textContent = 'A step sent from here happens now: leave out at';
        result.classList.add('error');
        return;
      }
      try {
        const answer = await api.action(record as Record<string, unknown>);
        result.textContent = `Scheduled ${String(answer.scheduled.record.action)} at ${vtime(answer.scheduled.atNs)}`;
        result.classList.add('ok');
      } catch (error) {
        result.textContent = error instanceof Error ? error.message : String(error);
        result.classList.add('error');
      }
    };
    return h(
      'form',
      {
        class: 'lab-step',
        onsubmit: (e: Event) => {
          e.preventDefault();
          void send();
        },
      },
      h('label', { for: 'lab-step', class: 'muted' }, 'Take a scenario step now (any action, without at):'),
      h('div', { class: 'lab-step-row' }, input, h('button', { id: 'lab-step-send', type: 'submit', class: 'secondary' }, 'Send')),
      result,
    );
  }

  private taskItem(task: LabInfo['tasks'][number]): HTMLElement {
    const hints = h('ul', { class: 'lab-hints' });
    const hintButton = h('button', { class: 'secondary lab-hint', 'data-task': task.id }, 'Hint');
    const showHints = (): void => {
      const n = this.revealed.get(task.id) ?? 0;
      replace(hints, task.hints.slice(0, n).map((hint) => h('li', {}, renderMarkdownInline(hint))));
      hintButton.hidden = n >= task.hints.length;
      hintButton.textContent = `Hint ${n + 1} of ${task.hints.length}`;
    };
    hintButton.addEventListener('click', () => {
      this.revealed.set(task.id, (this.revealed.get(task.id) ?? 0) + 1);
      showHints();
    });
    showHints();
    return h(
      'li',
      { class: 'lab-task', 'data-task': task.id, 'data-status': 'pending' },
      h('div', { class: 'lab-task-head' }, h('span', { class: 'pill info lab-status' }, STATUS_TEXT.pending), h('code', { class: 'lab-task-id' }, task.id)),
      h('div', { class: 'markdown lab-task-text' }, renderMarkdownInline(task.text)),
      h('p', { class: 'lab-task-detail' }),
      hints,
      hintButton,
    );
  }

  /** Statuses, reasons and the summary from the latest grade. */
  private renderGrade(): void {
    const grade = this.grade;
    const summary = this.root.querySelector('#lab-summary');
    if (!grade || !summary || this.response?.lab?.name !== grade.lab) return;
    summary.textContent = `${grade.passed} of ${grade.total} tasks passed${grade.final ? '' : ' so far'}`;
    summary.className = `lab-summary ${grade.passed === grade.total ? 'ok' : grade.final ? 'bad' : ''}`;
    for (const task of grade.tasks) {
      const item = this.root.querySelector<HTMLElement>(`#lab-tasks li[data-task="${CSS.escape(task.id)}"]`);
      if (!item) continue;
      item.dataset.status = task.status;
      const pill = item.querySelector('.lab-status')!;
      pill.textContent = STATUS_TEXT[task.status];
      pill.className = `pill ${STATUS_TONE[task.status]} lab-status`;
      const detail = item.querySelector('.lab-task-detail')!;
      const observed = task.checks.map((c) => c.observed).filter((o): o is string => o !== null);
      detail.textContent = task.status === 'passed' ? observed.join('; ') : (task.reason ?? '');
      detail.className = `lab-task-detail ${task.status === 'passed' ? 'muted' : ''}`;
    }
  }

  /** Tells the student whether virtual time runs, and when the lab ends. */
  private updateClock(): void {
    const lab = this.response?.lab;
    const status = this.store.status;
    if (!lab || !status || this.response?.mode !== 'live') {
      this.clockNote.textContent = '';
      return;
    }
    const end = `The lab's run ends at ${vtime(lab.endNs)}`;
    if (!['starting', 'running', 'paused'].includes(status.state)) this.clockNote.textContent = `The run has ended (${status.state}): the grade is final. Reset to try again.`;
    else if (status.paused && status.events === 0) this.clockNote.textContent = `Paused before the start: read on, then press Resume or Run until in the header. ${end}.`;
    else if (status.paused) this.clockNote.textContent = `Paused at ${vtime(status.vtime)}: act, then resume or run until a later time. ${end}.`;
    else this.clockNote.textContent = `Running, at ${vtime(status.vtime)}. ${end}; pause any time to act.`;
  }

  /**
   * The grade as a JSON report: to the desktop shell's save dialog, or a download. It carries the
   * fields `dpulab lab check --json` binds a grade with (fingerprint, seed, lab version and digest,
   * the dpulab versions that recorded and graded the run), read afresh: a live run's fingerprint
   * exists once it has ended.
   */
  private async save(): Promise<void> {
    let current: LabResponse;
    try {
      current = await labCall();
    } catch (error) {
      this.say(error instanceof Error ? error.message : String(error), 'error');
      return;
    }
    const lab = current.lab;
    const grade = this.grade ?? current.grade;
    if (!lab || !grade) return;
    const run = this.store.run?.run;
    const report = {
      format: 'dpulab-lab-grade',
      version: 2,
      lab: lab.name,
      title: lab.title,
      db: lab.db,
      ...lab.binding,
      run: run ? { id: run.id, db: run.db, seed: run.seed, fingerprint: lab.binding.fingerprint, mode: this.store.run?.mode } : { db: lab.db },
      savedAt: new Date().toISOString(),
      ok: grade.passed === grade.total,
      final: grade.final,
      passed: grade.passed,
      total: grade.total,
      tasks: grade.tasks.map((t) => ({
        id: t.id,
        text: lab.tasks.find((x) => x.id === t.id)?.text ?? '',
        status: t.status,
        reason: t.reason,
        observed: t.checks.map((c) => c.observed).filter((o) => o !== null),
      })),
    };
    const text = `${JSON.stringify(report, null, 2)}\n`;
    if (window.dpulab) {
      await window.dpulab.saveReport(text);
      return;
    }
    const url = URL.createObjectURL(new Blob([text], { type: 'application/json' }));
    const a = h('a', { href: url, download: `${lab.name}-grade.json` });
    a.click();
    URL.revokeObjectURL(url);
    this.say('Grade saved', 'ok');
  }
}
