import { describe, expect, it } from 'vitest';
import { loadDefaultLab } from '../../shared/topology/load.js';
import { TestContext } from '../runtime/testing.js';
import type { MgmtMessage, MigrationFact } from '../mgmt/messages.js';
import { Inventory } from './inventory.js';
import { TablePublisher, TABLE_RETRY_TIMER } from './publisher.js';
import { Switchovers, type MigrationRef } from './switchovers.js';

const lab = loadDefaultLab();
const REF: MigrationRef = { mid: 'web-01/esx-01/1', vm: 'web-01', from: 'esx-01', to: 'esx-02' };

function switchovers(known = new Set(['esx-01', 'esx-02'])): { s: Switchovers; ctx: TestContext; decided: string[]; known: Set<string> } {
  const decided: string[] = [];
  const ctx = new TestContext('vcenter');
  const s = new Switchovers({ known: (h) => known.has(h), hostOf: () => 'esx-01', decided: (_c, m, decision) => void decided.push(`${m.mid}:${decision}`) });
  return { s, ctx, decided, known };
}

describe('Switchovers', () => {
  it('Switchovers decide once: the first of commit or abort wins, every later request gets the same answer', () => {
    const { s, ctx, decided } = switchovers();
    expect(s.register(ctx, REF)).toEqual({ ok: true, reason: null });
    expect(s.begin(ctx, REF)).toEqual({ ok: true, reason: null });
    expect(s.query(ctx, REF)).toEqual({ decision: 'pending', reason: null });
    expect(s.commit(ctx, REF)).toEqual({ decision: 'committed', reason: null });
    expect(s.abort(ctx, REF, 'peer-unreachable')).toEqual({ decision: 'committed', reason: null });
    expect(s.commit(ctx, REF)).toEqual({ decision: 'committed', reason: null });
    expect(decided).toEqual(['web-01/esx-01/1:committed']);
    expect(ctx.events.filter((e) => e.kind === 'switchover.decision')).toHaveLength(1);

    const other = { ...REF, mid: 'web-01/esx-01/2' };
    s.register(ctx, other);
    expect(s.abort(ctx, other, 'dfw-import-refused')).toEqual({ decision: 'aborted', reason: 'dfw-import-refused' });
    expect(s.commit(ctx, other)).toEqual({ decision: 'aborted', reason: 'dfw-import-refused' });
  });

  it('Switchovers refuse a VM that is not on the source or already migrating', () => {
    const { s, ctx } = switchovers();
    expect(s.register(ctx, { ...REF, from: 'esx-02', to: 'esx-01' })).toEqual({ ok: false, reason: 'not-on-source: the inventory has web-01 on esx-01' });
    s.register(ctx, REF);
    expect(s.register(ctx, { ...REF, mid: 'web-01/esx-01/9' })).toEqual({ ok: false, reason: 'already-migrating: web-01/esx-01/1' });
    expect(s.register(ctx, REF)).toEqual({ ok: true, reason: null });
  });

  it('Switchovers of a restarted manager adopt a decision a host acted on, and decide nothing else before both hosts reported', () => {
    const fact = (decided: MigrationFact['decided'], asked: MigrationFact['asked'] = null): MigrationFact => ({ ...REF, role: 'destination', phase: decided === null ? 'committing' : 'done', asked, reason: null, decided });
    // The destination resumed on a commit the old manager sent, which the source never heard.
    const one = switchovers(new Set());
    expect(one.s.query(one.ctx, REF)).toEqual({ decision: 'pending', reason: null });
    one.known.add('esx-02');
    one.s.onReport(one.ctx, 'esx-02', [fact('committed')]);
    expect(one.s.abort(one.ctx, REF, 'peer-unreachable')).toEqual({ decision: 'committed', reason: null });
    expect(one.decided).toEqual([]);
    // No fact: a commit waits until both hosts reported, then is decided.
    const two = switchovers(new Set(['esx-02']));
    expect(two.s.commit(two.ctx, REF)).toEqual({ decision: 'pending', reason: null });
    two.known.add('esx-01');
    two.s.onReport(two.ctx, 'esx-01', [{ ...REF, role: 'source', phase: 'transfer', asked: null, reason: null, decided: null }]);
    expect(two.decided).toEqual(['web-01/esx-01/1:committed']);
  });
});

describe('Inventory and TablePublisher', () => {
  it('Inventory makes a generation per change and gives a node the delta since the generation it holds', () => {
    const ctx = new TestContext('vcenter');
    const inventory = new Inventory(lab, { epoch: 0, known: true });
    expect(inventory.generation).toBe(0);
    inventory.setDpus(ctx, 'esx-02', 'dpu-02b', 'dpu-02a', 'failover');
    inventory.moveVm(ctx, 'web-01', 'esx-02', 'vmotion');
    inventory.moveVm(ctx, 'web-01', 'esx-02', 'again');
    expect(inventory.generation).toBe(2);
    expect(inventory.delta(1)).toEqual({ hosts: [], vnics: [expect.objectContaining({ vnic: 'web-01.eth0', host: 'esx-02', tep: '172.16.0.13' })] });
    expect(inventory.delta(0)!.hosts).toEqual([{ host: 'esx-02', tep: '172.16.0.13' }]);
    expect(inventory.delta(0)!.vnics.map((v) => v.vnic)).toEqual(['app-02.eth0', 'web-01.eth0', 'web-02.eth0']);
    expect(ctx.events.filter((e) => e.kind === 'manager.table').map((e) => e.payload.generation)).toEqual([1, 2]);
  });

  it('TablePublisher sends every DPU what it lacks until it acknowledges, the whole table to one of another epoch', () => {
    const clock = { now: 0 };
    const ctx = new TestContext('vcenter', { clock });
    const inventory = new Inventory(lab, { epoch: 0, known: true });
    const sent: Array<[string, MgmtMessage]> = [];
    const publisher = new TablePublisher(['dpu-01a', 'dpu-01b'], inventory, (_c, node, message) => void sent.push([node, message]), { epoch: 0, generation: 0 });
    inventory.setDpus(ctx, 'esx-02', 'dpu-02b', 'dpu-02a', 'failover');
    publisher.push(ctx);
    expect(sent.map(([node, m]) => [node, m.t === 'table' && m.base])).toEqual([
      ['dpu-01a', 0],
      ['dpu-01b', 0],
    ]);
    publisher.onVersion(ctx, 'dpu-01a', { epoch: 0, generation: 1 });
    // dpu-01b stays silent: sent again when its timer expires.
    const due = ctx.takeDue(Infinity)!;
    clock.now = due.at;
    expect(due.name).toBe(TABLE_RETRY_TIMER);
    publisher.onTimer(ctx, due.name, due.data);
    expect(sent.at(-1)![0]).toBe('dpu-01b');
    // A node that reports it holds another epoch's table gets the whole table.
    publisher.onVersion(ctx, 'dpu-01a', { epoch: 99, generation: 4 });
    const whole = sent.at(-1)![1];
    expect(whole.t === 'table' && [whole.base, whole.parts, whole.vnics.length]).toEqual([null, 1, 5]);
  });
});
