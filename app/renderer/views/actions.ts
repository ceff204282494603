/// <reference lib="dom" />
/**
 * Actions on the live lab: start and stop flows, move a VM to another host (vMotion), kill (and
 * restart) nodes, take links down and up, add and remove firewall rules, change a vNIC's mode,
 * note the timeline. Each one POSTs
 * `/api/action`; the server records it as an input at the earliest time it can take effect, so a
 * replay does it again. A refused action names the field, which is marked in the form.
 */
import { api, ApiCallError } from '../api.js';
import { h, replace, type Child } from '../dom.js';
import { vtime } from '../format.js';
import { vmHostOf } from '../../../shared/state/queries.js';
import type { Store } from '../store.js';

type Control = HTMLInputElement | HTMLSelectElement;

function options(values: readonly string[], selected?: string): HTMLOptionElement[] {
  return values.map((v) => h('option', { value: v, selected: v === selected }, v));
}

function field(label: string, control: Control): HTMLElement {
  return h('label', { class: 'field' }, h('span', {}, label), control);
}

/** The actions tab. */
export class ActionsView {
  private readonly result: HTMLElement;
  private readonly body: HTMLElement;
  private flowCounter = 1;

  constructor(
    root: HTMLElement,
    private readonly store: Store,
  ) {
    this.result = h('div', { id: 'action-result', class: 'action-result', role: 'status', 'aria-live': 'polite' });
    this.body = h('div', { class: 'actions' });
    replace(root, this.result, this.body);
    store.on('run', () => this.build());
    store.on('lab', () => this.refreshChoices());
  }

  /** Sends one action; shows when it was scheduled or what was wrong. */
  async send(record: Record<string, unknown>, form?: HTMLElement): Promise<boolean> {
    for (const el of form?.querySelectorAll('.invalid') ?? []) el.classList.remove('invalid');
    try {
      const answer = await api.action(record);
      this.result.className = 'action-result ok';
      this.result.textContent = `Scheduled ${record.action as string} at ${vtime(answer.scheduled.atNs)}`;
      return true;
    } catch (error) {
      this.result.className = 'action-result error';
      this.result.textContent = error instanceof Error ? error.message : String(error);
      if (error instanceof ApiCallError && error.field && form) {
        const name = error.field.replace(/^record\./, '');
        for (const el of form.querySelectorAll(`[data-field]`)) if (name === el.getAttribute('data-field') || name.startsWith(`${el.getAttribute('data-field')}.`)) el.classList.add('invalid');
      }
      return false;
    }
  }

  private vms(): string[] {
    return (this.store.run?.topology.nodes ?? []).flatMap((n) => (n.kind === 'host' ? n.spec.vms.map((v) => v.id) : []));
  }

  /** The host a VM runs on now (where a vMotion took it, else its topology host). */
  private hostOf(vm: string): string | null {
    const home = this.store.run?.topology.nodes.find((n) => n.kind === 'host' && n.spec.vms.some((v) => v.id === vm));
    return home ? vmHostOf(this.store.lab, vm, home.id) : null;
  }

  /** vMotion form: the destination offered first is a host the VM is not on. */
  private suggestDestination(vm: string, select: HTMLSelectElement): void {
    const here = this.hostOf(vm);
    if (select.value !== here) return;
    const other = [...select.options].map((o) => o.value).find((h) => h !== here);
    if (other !== undefined) select.value = other;
  }

  private build(): void {
    const run = this.store.run;
    if (!run) return;
    if (run.mode !== 'live') {
      replace(this.body, h('p', { class: 'empty' }, 'This is a recording: actions need a live run (dpulab ui without --db).'));
      return;
    }
    const vms = this.vms();
    const nodes = run.topology.nodes.map((n) => n.id);
    // Data cables and management cables can be cut; a pcie wire is inside a host.
    const wires = run.topology.wires.filter((w) => w.kind !== 'pcie').map((w) => w.id);
    const vnics = run.topology.nodes.flatMap((n) => (n.kind === 'host' ? n.spec.vms.flatMap((v) => v.vnics.map((x) => x.id)) : []));
    const card = (title: string, ...children: Child[]): HTMLElement => h('form', { class: 'action-card', onsubmit: (e: Event) => e.preventDefault() }, h('h3', {}, title), ...children);

    // Flows
    const flowId = h('input', { id: 'flow-id', name: 'id', 'data-field': 'flow.id', value: 'ui-flow-1', size: 10 });
    const flowKind = h('select', { id: 'flow-kind', 'data-field': 'flow.kind' }, options(['tcp', 'udp', 'ping'], 'udp'));
    const flowFrom = h('select', { id: 'flow-from', 'data-field': 'flow.from' }, options(vms, vms[0]));
    const flowTo = h('input', { id: 'flow-to', 'data-field': 'flow.to', list: 'vm-list', value: vms[1] ?? '', size: 10 });
    const flowRate = h('input', { id: 'flow-rate', 'data-field': 'flow.ratePps', type: 'number', min: '1', value: '100', size: 6 });
    const flowStart = card(
      'Start a flow',
      h('datalist', { id: 'vm-list' }, options(vms)),
      h('div', { class: 'fields' }, field('id', flowId), field('kind', flowKind), field('from VM', flowFrom), field('to (VM or IP)', flowTo), field('rate (msg/s)', flowRate)),
      h(
        'button',
        {
          id: 'flow-start',
          onclick: async () => {
            const ok = await this.send({ action: 'flow.start', flow: { id: flowId.value.trim(), kind: flowKind.value, from: flowFrom.value, to: flowTo.value.trim(), ratePps: Number(flowRate.value) } }, flowStart);
            if (ok) flowId.value = `ui-flow-${++this.flowCounter}`;
          },
        },
        'Start',
      ),
    );
    const stopSelect = h('select', { id: 'flow-stop-id', 'data-field': 'flow' });
    const flowStop = card('Stop a flow', h('div', { class: 'fields' }, field('flow', stopSelect)), h('button', { id: 'flow-stop', onclick: () => void this.send({ action: 'flow.stop', flow: stopSelect.value }, flowStop) }, 'Stop'));

    // vMotion (the same action as dragging a VM onto another host)
    const hosts = run.topology.nodes.filter((n) => n.kind === 'host').map((n) => n.id);
    const vmotionVm = h('select', { id: 'vmotion-vm', 'data-field': 'vm', onchange: () => {
          this.suggestDestination(vmotionVm.value, vmotionTo);
          this.refreshChoices();
        },
      }, options(vms, vms[0]));
    const vmotionTo = h('select', { id: 'vmotion-to', 'data-field': 'to' }, options(hosts, hosts[0]));
    this.suggestDestination(vmotionVm.value, vmotionTo);
    const vmotionHere = h('span', { id: 'vmotion-from', class: 'muted' });
    const vmotion = run.actions.includes('vmotion')
      ? card(
          'vMotion',
          h('div', { class: 'fields' }, field('VM', vmotionVm), field('to host', vmotionTo)),
          vmotionHere,
          h('button', { id: 'vmotion-start', onclick: () => void this.send({ action: 'vmotion', vm: vmotionVm.value, to: vmotionTo.value }, vmotion!) }, 'Migrate'),
        )
      : null;

    // Failures
    const killNode = h('select', { id: 'kill-node', 'data-field': 'node' }, options(nodes, nodes.find((n) => n.startsWith('dpu'))));
    const canRestart = run.actions.includes('restart');
    const kill = card(
      'Kill a node',
      h('div', { class: 'fields' }, field('node', killNode)),
      h('div', { class: 'buttons' }, h('button', { id: 'kill-button', class: 'danger', onclick: () => void this.send({ action: 'kill', node: killNode.value }, kill) }, 'Kill (SIGKILL)'), canRestart ? h('button', { id: 'restart-button', class: 'secondary', onclick: () => void this.send({ action: 'restart', node: killNode.value }, kill) }, 'Restart') : null),
    );
    const linkWire = h('select', { id: 'link-wire', 'data-field': 'wire' }, options(wires));
    const link = card(
      'Cable',
      h('div', { class: 'fields' }, field('wire', linkWire)),
      h('div', { class: 'buttons' }, h('button', { id: 'link-down', class: 'danger', onclick: () => void this.send({ action: 'link', wire: linkWire.value, state: 'down' }, link) }, 'Down'), h('button', { id: 'link-up', class: 'secondary', onclick: () => void this.send({ action: 'link', wire: linkWire.value, state: 'up' }, link) }, 'Up')),
    );

    // Firewall
    const ruleId = h('input', { id: 'rule-id', 'data-field': 'rule.id', value: 'ui-rule', size: 10 });
    const ruleSources = h('input', { id: 'rule-sources', 'data-field': 'rule.sources', value: 'any', size: 12 });
    const ruleDestinations = h('input', { id: 'rule-destinations', 'data-field': 'rule.destinations', value: vms[1] ?? 'any', size: 12 });
    const ruleProtocol = h('select', { id: 'rule-protocol', 'data-field': 'rule.service' }, options(['any', 'tcp', 'udp', 'icmp', 'icmpv6'], 'icmp'));
    const rulePorts = h('input', { id: 'rule-ports', 'data-field': 'rule.service', placeholder: '5201 or 8000-8080', size: 10 });
    const ruleAction = h('select', { id: 'rule-action', 'data-field': 'rule.action' }, options(['allow', 'drop', 'reject'], 'drop'));
    const rulePriority = h('input', { id: 'rule-priority', 'data-field': 'rule.priority', type: 'number', min: '0', value: '100', size: 5 });
    const list = (text: string): string[] =>
      text
        .split(/[\s,]+/)
        .map((s) => s.trim())
        .filter((s) => s !== '');
    const ruleAdd = card(
      'Add a firewall rule',
      h('div', { class: 'fields' }, field('id', ruleId), field('sources', ruleSources), field('destinations', ruleDestinations), field('protocol', ruleProtocol), field('ports', rulePorts), field('action', ruleAction), field('priority', rulePriority)),
      h(
        'button',
        {
          id: 'rule-add',
          onclick: () => {
            const ports = list(rulePorts.value);
            void this.send(
              {
                action: 'dfw.rule.add',
                rule: { id: ruleId.value.trim(), priority: Number(rulePriority.value), sources: list(ruleSources.value), destinations: list(ruleDestinations.value), service: { protocol: ruleProtocol.value, ...(ports.length > 0 ? { destinationPorts: ports } : {}) }, action: ruleAction.value },
              },
              ruleAdd,
            );
          },
        },
        'Push to every DPU',
      ),
    );
    const removeSelect = h('select', { id: 'rule-remove-id', 'data-field': 'rule' });
    const ruleRemove = card('Remove a firewall rule', h('div', { class: 'fields' }, field('rule', removeSelect)), h('button', { id: 'rule-remove', onclick: () => void this.send({ action: 'dfw.rule.remove', rule: removeSelect.value }, ruleRemove) }, 'Withdraw'));

    // vNIC mode and notes
    const modeVnic = h('select', { id: 'mode-vnic', 'data-field': 'vnic' }, options(vnics));
    const modeMode = h('select', { id: 'mode-mode', 'data-field': 'mode' }, options(['uptv2', 'mux', 'emulated'], 'emulated'));
    const mode = card('vNIC mode', h('div', { class: 'fields' }, field('vNIC', modeVnic), field('mode', modeMode)), h('button', { id: 'mode-set', onclick: () => void this.send({ action: 'vnic.mode', vnic: modeVnic.value, mode: modeMode.value }, mode) }, 'Switch'));
    const noteText = h('input', { id: 'note-text', 'data-field': 'text', placeholder: 'what you are about to try', size: 22 });
    const note = card('Note on the timeline', h('div', { class: 'fields' }, field('text', noteText)), h('button', { id: 'note-add', class: 'secondary', onclick: () => void this.send({ action: 'note', text: noteText.value }, note) }, 'Add note'));

    replace(this.body, flowStart, flowStop, vmotion, kill, link, ruleAdd, ruleRemove, mode, note);
    this.refreshChoices();
  }

  /** Keeps the running flows and installed rules in their lists. */
  private refreshChoices(): void {
    const lab = this.store.lab;
    const vmotionVm = document.getElementById('vmotion-vm') as HTMLSelectElement | null;
    const here = document.getElementById('vmotion-from');
    if (vmotionVm && here) {
      const host = this.hostOf(vmotionVm.value);
      const text = host ? `${vmotionVm.value} runs on ${host}` : '';
      if (here.textContent !== text) here.textContent = text;
    }
    const running = Object.values(lab.flows)
      .filter((f) => f.stoppedAt === null)
      .map((f) => f.id)
      .sort();
    const rules = Object.keys(lab.rules).sort();
    for (const [id, values] of [
      ['flow-stop-id', running],
      ['rule-remove-id', rules],
    ] as const) {
      const select = document.getElementById(id) as HTMLSelectElement | null;
      if (!select) continue;
      const current = [...select.options].map((o) => o.value).join('\n');
      if (current === values.join('\n')) continue;
      const keep = select.value;
      replace(select, options(values, values.includes(keep) ? keep : values[0]));
    }
  }
}
