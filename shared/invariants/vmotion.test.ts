import { describe, expect, it } from 'vitest';
import { LogBuilder, msNs, violationsOf } from './testing.js';
import { abortRestoresSource, dfwBeforeResume, dfwFailClosed, vmOneHost, vmotionEndsOnce } from './vmotion.js';

const MAC = '00:50:56:b8:e8:ee';

interface Plan {
  readonly mid?: string;
  readonly options?: Record<string, unknown>;
  /** What the destination DPU answers to the import. */
  readonly importOk?: boolean;
}

/** web-01 leaves esx-01 for esx-02 up to its stun (at `t` ms). */
function startMigration(log: LogBuilder, t: number, plan: Plan = {}): string {
  const mid = plan.mid ?? 'web-01/esx-01/1';
  log.at(t).emit('esx-01', 'vmotion.start', { mid, vm: 'web-01', from: 'esx-01', to: 'esx-02', vnics: ['web-01.eth0'], options: { maxPrecopy: msNs(2000), onDfwRefused: 'abort', ...plan.options } });
  log.emit('esx-01', 'vnic.mode', { vnic: 'web-01.eth0', vm: 'web-01', requested: 'uptv2', active: 'emulated', reason: 'vmotion-in-progress' });
  log.at(t + 100).emit('esx-01', 'vmotion.stun', { mid, vm: 'web-01', host: 'esx-01' });
  log.emit('dpu-01a', 'dfw.export', { node: 'dpu-01a', vnic: 'web-01.eth0', vm: 'web-01', version: 1 });
  log.emit('esx-01', 'vmotion.transfer', { mid, vm: 'web-01', to: 'esx-02', vnics: [{ vnic: 'web-01.eth0', mac: MAC, device: { mac: MAC } }] });
  log.at(t + 101).emit('dpu-02a', 'dfw.import', { node: 'dpu-02a', vnic: 'web-01.eth0', vm: 'web-01', ok: plan.importOk ?? true, version: 1 });
  return mid;
}

/** The destination resumes and the migration succeeds. */
function finishMigration(log: LogBuilder, t: number, mid: string, result = 'success'): void {
  log.at(t).emit('esx-02', 'vmotion.resume', { mid, vm: 'web-01', host: 'esx-02', from: 'esx-01' });
  log.emit('esx-02', 'net.rarp', { mid, vm: 'web-01', vnic: 'web-01.eth0', mac: MAC, host: 'esx-02', dpu: 'dpu-02a' });
  log.at(t + 1).emit('esx-01', 'vmotion.source.released', { mid, vm: 'web-01', to: 'esx-02' });
  log.at(t + 2).emit('esx-02', 'vmotion.done', { mid, vm: 'web-01', from: 'esx-01', to: 'esx-02', result });
}

/** The source gives up and thaws the VM, its vNIC back in passthrough. */
function abortMigration(log: LogBuilder, t: number, mid: string, passthroughBack = true): void {
  log.at(t).emit('esx-01', 'vnic.mode', { vnic: 'web-01.eth0', vm: 'web-01', requested: 'uptv2', active: 'emulated', reason: 'awaiting-vf' });
  log.emit('esx-01', 'vmotion.done', { mid, vm: 'web-01', from: 'esx-01', to: 'esx-02', result: 'aborted', reason: 'peer-unreachable' });
  log.emit('dpu-01a', 'dfw.import', { node: 'dpu-01a', vnic: 'web-01.eth0', vm: 'web-01', ok: true, version: 1 });
  if (passthroughBack) log.at(t + 1).emit('esx-01', 'vnic.mode', { vnic: 'web-01.eth0', vm: 'web-01', requested: 'uptv2', active: 'uptv2', reason: null });
}

function goodMigration(): LogBuilder {
  const log = new LogBuilder().boot();
  finishMigration(log, 700, startMigration(log, 500));
  return log;
}

describe('vmotion-ends-once', () => {
  it('vmotion-ends-once passes a migration that ends once', () => {
    expect(violationsOf(vmotionEndsOnce, goodMigration().events, msNs(4000))).toEqual([]);
  });

  it('vmotion-ends-once fails when one migration id is both aborted and a success', () => {
    const log = new LogBuilder().boot();
    const mid = startMigration(log, 500);
    finishMigration(log, 700, mid, 'success-emulated');
    const abort = log.at(950).emit('esx-01', 'vmotion.done', { mid, vm: 'web-01', from: 'esx-01', to: 'esx-02', result: 'aborted' });
    const found = violationsOf(vmotionEndsOnce, log.events, msNs(4000));
    expect(found).toHaveLength(1);
    expect(found[0]!.event.seq).toBe(abort.seq);
    expect(found[0]!.message).toContain('ended twice: success-emulated on esx-02');
  });

  it('vmotion-ends-once fails when a migration never ends, unless its source died', () => {
    const log = new LogBuilder().boot();
    startMigration(log, 500);
    const found = violationsOf(vmotionEndsOnce, [...log.events, ...new LogBuilder().end(8000).events.map((e, i) => ({ ...e, seq: log.events.length + i }))], msNs(8000));
    expect(found.map((v) => v.message)).toEqual([expect.stringContaining('never ended')]);
    expect(found[0]!.event.kind).toBe('vmotion.start');
    // Within its budget (2 s pre-copy + 2 s) nothing is due yet.
    expect(violationsOf(vmotionEndsOnce, log.events, msNs(4000))).toEqual([]);
    log.at(900).kill('esx-01');
    expect(violationsOf(vmotionEndsOnce, log.events, msNs(8000))).toEqual([]);
  });
});

describe('vm-one-host', () => {
  it('vm-one-host passes a migration: the source holds the VM stunned until it lets it go', () => {
    expect(violationsOf(vmOneHost, goodMigration().events, msNs(4000))).toEqual([]);
  });

  it('vm-one-host fails on split brain: the source thaws a VM the destination already resumed', () => {
    const log = new LogBuilder().boot();
    const mid = startMigration(log, 500);
    log.at(700).emit('esx-02', 'vmotion.resume', { mid, vm: 'web-01', host: 'esx-02', from: 'esx-01' });
    const thaw = log.at(950).emit('esx-01', 'vmotion.done', { mid, vm: 'web-01', from: 'esx-01', to: 'esx-02', result: 'aborted' });
    const found = violationsOf(vmOneHost, log.events, msNs(4000));
    expect(found).toEqual([{ invariant: 'vm-one-host', message: 'VM web-01 thawed by an abort on esx-01 while esx-02 still runs it', event: { seq: thaw.seq, vtime: thaw.vtime, node: 'esx-01', kind: 'vmotion.done' } }]);
  });

  it('vm-one-host fails when a restarted host boots a VM that moved away', () => {
    const log = goodMigration();
    log.at(1000).kill('esx-01');
    log.at(1500).start('esx-01', 1);
    log.bootVms('esx-01');
    const found = violationsOf(vmOneHost, log.events, msNs(4000));
    expect(found.map((v) => v.message)).toEqual(['VM web-01 booted on esx-01 while esx-02 still runs it']);
  });
});

describe('a second migration refused while one is under way', () => {
  it('a refused second migration neither thaws the VM, nor takes the import, nor owes passthrough', () => {
    const log = new LogBuilder().boot();
    const mid = 'web-01/esx-01/1';
    log.at(500).emit('esx-01', 'vmotion.start', { mid, vm: 'web-01', from: 'esx-01', to: 'esx-02', vnics: ['web-01.eth0'], options: {} });
    log.emit('esx-01', 'vnic.mode', { vnic: 'web-01.eth0', vm: 'web-01', requested: 'uptv2', active: 'emulated', reason: 'vmotion-in-progress' });
    log.at(600).emit('esx-01', 'vmotion.stun', { mid, vm: 'web-01', host: 'esx-01' });
    // Back to esx-01 at once: refused, the VM stays stunned for the first one.
    log.at(650).emit('esx-01', 'vmotion.start', { mid: 'web-01/esx-01/2', vm: 'web-01', from: 'esx-01', to: 'esx-01', vnics: ['web-01.eth0'], options: {} });
    log.emit('esx-01', 'vmotion.done', { mid: 'web-01/esx-01/2', vm: 'web-01', from: 'esx-01', to: 'esx-01', result: 'aborted', reason: 'already-migrating' });
    log.at(700).emit('dpu-02a', 'dfw.import', { node: 'dpu-02a', vnic: 'web-01.eth0', vm: 'web-01', ok: true });
    finishMigration(log, 701, mid);
    for (const invariant of [vmOneHost, dfwBeforeResume, abortRestoresSource, vmotionEndsOnce]) expect(violationsOf(invariant, log.events, msNs(4000))).toEqual([]);
  });
});

describe('dfw-before-resume', () => {
  it('dfw-before-resume passes when the destination imported before the resume', () => {
    expect(violationsOf(dfwBeforeResume, goodMigration().events, msNs(4000))).toEqual([]);
  });

  it('dfw-before-resume fails when the VM resumes before any import on the destination', () => {
    const log = new LogBuilder().boot();
    const mid = 'web-01/esx-01/1';
    log.at(500).emit('esx-01', 'vmotion.start', { mid, vm: 'web-01', from: 'esx-01', to: 'esx-02', vnics: ['web-01.eth0'], options: {} });
    // An import on the source's own DPU does not count for the destination.
    log.at(600).emit('dpu-01a', 'dfw.import', { node: 'dpu-01a', vnic: 'web-01.eth0', vm: 'web-01', ok: true });
    const resume = log.at(700).emit('esx-02', 'vmotion.resume', { mid, vm: 'web-01', host: 'esx-02', from: 'esx-01' });
    log.at(710).emit('dpu-02a', 'dfw.import', { node: 'dpu-02a', vnic: 'web-01.eth0', vm: 'web-01', ok: true });
    const found = violationsOf(dfwBeforeResume, log.events, msNs(4000));
    expect(found).toHaveLength(1);
    expect(found[0]!.event.seq).toBe(resume.seq);
    expect(found[0]!.message).toContain('no DPU of the destination imported it');
  });

  it('dfw-before-resume accepts a refused import when the policy leaves the vNIC disconnected', () => {
    const log = new LogBuilder().boot();
    const mid = startMigration(log, 500, { importOk: false, options: { onDfwRefused: 'disconnect' } });
    finishMigration(log, 700, mid, 'success-disconnected');
    expect(violationsOf(dfwBeforeResume, log.events, msNs(4000))).toEqual([]);
  });
});

describe('dfw-fail-closed', () => {
  it('dfw-fail-closed passes a refused import that aborts, the VM back on its source', () => {
    const log = new LogBuilder().boot();
    abortMigration(log, 710, startMigration(log, 500, { importOk: false }));
    log.at(800).emit('dpu-01a', 'dfw.rule.hit', { vnic: 'web-01.eth0', rule: 'r', action: 'allow' });
    expect(violationsOf(dfwFailClosed, log.events, msNs(4000))).toEqual([]);
  });

  it('dfw-fail-closed fails when an abort-policy migration resumes although the destination refused', () => {
    const log = new LogBuilder().boot();
    const mid = startMigration(log, 500, { importOk: false });
    finishMigration(log, 700, mid, 'success-emulated');
    const found = violationsOf(dfwFailClosed, log.events, msNs(4000));
    expect(found).toHaveLength(1);
    expect(found[0]!.event.kind).toBe('vmotion.resume');
    expect(found[0]!.message).toContain('although dpu-02a refused');
  });

  it('dfw-fail-closed fails when the refused vNIC forwards on another DPU of the destination', () => {
    const log = new LogBuilder().boot();
    const mid = startMigration(log, 500, { importOk: false, options: { onDfwRefused: 'disconnect' } });
    finishMigration(log, 700, mid, 'success-disconnected');
    const hit = log.at(800).emit('dpu-02b', 'dfw.rule.hit', { vnic: 'web-01.eth0', rule: 'r', action: 'allow' });
    const found = violationsOf(dfwFailClosed, log.events, msNs(4000));
    expect(found.map((v) => v.event.seq)).toEqual([hit.seq]);
    expect(found[0]!.message).toContain('served by dpu-02b on esx-02');
  });
});

describe('abort-restores-source', () => {
  it('abort-restores-source passes an abort that thaws on the source and regains passthrough', () => {
    const log = new LogBuilder().boot();
    abortMigration(log, 800, startMigration(log, 500));
    expect(violationsOf(abortRestoresSource, log.events, msNs(4000))).toEqual([]);
  });

  it('abort-restores-source fails when passthrough is not back within the settling time', () => {
    const log = new LogBuilder().boot();
    abortMigration(log, 800, startMigration(log, 500), false);
    const found = violationsOf(abortRestoresSource, log.events, msNs(4000));
    expect(found.map((v) => v.message)).toEqual([expect.stringContaining('web-01.eth0 did not get passthrough back on esx-01')]);
    // A run that ends before the deadline is not judged.
    expect(violationsOf(abortRestoresSource, log.events, msNs(1500))).toEqual([]);
  });

  it('abort-restores-source owes nothing for a vNIC that was not in passthrough when the migration started', () => {
    const log = new LogBuilder().boot();
    log.at(100).emit('esx-01', 'vnic.mode', { vnic: 'web-01.eth0', vm: 'web-01', requested: 'uptv2', active: 'emulated', reason: 'insufficient-memory-reservation' });
    const mid = startMigration(log, 500);
    log.at(800).emit('esx-01', 'vmotion.done', { mid, vm: 'web-01', from: 'esx-01', to: 'esx-02', result: 'aborted', reason: 'peer-unreachable' });
    expect(violationsOf(abortRestoresSource, log.events, msNs(4000))).toEqual([]);
  });

  it('abort-restores-source fails when the migration aborts after the VM resumed on the destination', () => {
    const log = new LogBuilder().boot();
    const mid = startMigration(log, 500);
    log.at(700).emit('esx-02', 'vmotion.resume', { mid, vm: 'web-01', host: 'esx-02', from: 'esx-01' });
    abortMigration(log, 950, mid);
    const found = violationsOf(abortRestoresSource, log.events, msNs(4000));
    expect(found.map((v) => v.message)).toEqual(['vMotion web-01/esx-01/1 of web-01 aborted after the VM had resumed on esx-02 (seq ' + String(log.events.find((e) => e.kind === 'vmotion.resume')!.seq) + ')']);
  });
});
