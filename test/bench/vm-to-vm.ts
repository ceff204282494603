/**
 * Frames end to end: one UDP flow from web-01 (esx-01) to web-02 (esx-02) across the overlay at a
 * high rate, in both modes. Every hop is a frame on a wire, recorded as `frame.tx`: guest, VF over
 * PCIe to the DPU, GENEVE through the switches to the other DPU, over PCIe to the guest. In
 * multi-process mode each crosses ZeroMQ between two processes, so this is the throughput-bound
 * counterpart of the latency-bound tour.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventLogReader } from '../../processes/controller/log/reader.js';
import { startRun, type RunMode, type RunSummary } from '../../processes/controller/session.js';
import { emergencyCleanups, fmt, medianBy, note } from './common.js';

/** The flow stops 50 ms before the end, so nothing is in flight when the run ends. */
const VM_TO_VM = {
  flow: 'vm-to-vm',
  from: 'web-01',
  to: 'web-02',
  ratePps: 20_000,
  payloadBytes: 1000,
  startNs: 100e6,
  stopNs: 450e6,
  endNs: 500e6,
} as const;
/** In-process runs after one warm-up run (the median by frame rate is reported). */
const IN_PROCESS_RUNS = 3;

export interface VmToVmRun {
  readonly mode: RunMode;
  readonly status: string;
  readonly fingerprint: string;
  readonly windows: number;
  readonly delivered: number;
  readonly lost: number;
  /** `frame.tx` events: every frame put on any wire. */
  readonly frames: number;
  readonly wallMs: number;
  readonly framesPerSec: number;
}

export interface VmToVmFigure {
  readonly workload: string;
  readonly multiProcess: VmToVmRun;
  readonly inProcess: VmToVmRun;
  readonly fingerprintsMatch: boolean;
}

function scenarioYaml(): string {
  const v = VM_TO_VM;
  const ms = (ns: number): string => `${ns / 1e6}ms`;
  return [
    'name: bench-vm-to-vm',
    `end: ${ms(v.endNs)}`,
    'steps:',
    `  - { at: ${ms(v.startNs)}, action: flow.start, flow: { id: ${v.flow}, kind: udp, from: ${v.from}, to: ${v.to}, ratePps: ${v.ratePps}, payloadBytes: ${v.payloadBytes} } }`,
    `  - { at: ${ms(v.stopNs)}, action: flow.stop, flow: ${v.flow} }`,
    '',
  ].join('\n');
}

async function vmToVmRun(mode: RunMode): Promise<VmToVmRun> {
  const dir = mkdtempSync(join(tmpdir(), 'dpl-bench-'));
  const db = join(dir, `vm-to-vm-${mode}.db`);
  try {
    const run = startRun({ mode, db, scenario: { text: scenarioYaml(), file: 'bench-vm-to-vm.yaml' }, log: note });
    emergencyCleanups.add(run.killNow);
    let summary: RunSummary;
    try {
      summary = await run.done;
    } finally {
      emergencyCleanups.delete(run.killNow);
    }
    const flow = summary.flows.find((f) => f.flow === VM_TO_VM.flow);
    if (!flow) throw new Error(`The ${mode} run has no summary for flow ${VM_TO_VM.flow} (status ${summary.status})`);
    const reader = EventLogReader.open(db);
    let frames = 0;
    try {
      for (const _ of reader.events({ kinds: ['frame.tx'] })) frames++;
    } finally {
      reader.close();
    }
    return {
      mode,
      status: summary.status,
      fingerprint: summary.fingerprint,
      windows: summary.windows,
      delivered: flow.delivered,
      lost: flow.lost,
      frames,
      wallMs: summary.wallMs,
      framesPerSec: frames / (summary.wallMs / 1000),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Multi-process once; in-process after a warm-up, the median of several. */
export async function measureVmToVm(): Promise<VmToVmFigure> {
  const v = VM_TO_VM;
  note(`[vmToVm] UDP ${v.from} -> ${v.to} at ${fmt(v.ratePps, 0)} pps for ${fmt((v.stopNs - v.startNs) / 1e6, 0)} ms virtual`);
  const multiProcess = await vmToVmRun('multi-process');
  note(`      multi-process: ${fmt(multiProcess.frames, 0)} frames in ${fmt(multiProcess.wallMs, 0)} ms`);
  const warmUp = await vmToVmRun('in-process');
  const runs: VmToVmRun[] = [];
  for (let i = 0; i < IN_PROCESS_RUNS; i++) runs.push(await vmToVmRun('in-process'));
  const inProcess = medianBy(runs, (r) => r.framesPerSec);
  note(`      in-process: ${fmt(inProcess.frames, 0)} frames in ${fmt(inProcess.wallMs, 0)} ms`);
  return {
    workload: `default lab, UDP ${v.from} (esx-01) -> ${v.to} (esx-02), ${fmt(v.ratePps, 0)} pps x ${v.payloadBytes} bytes, ${v.endNs / 1e6} ms virtual`,
    multiProcess,
    inProcess,
    fingerprintsMatch: multiProcess.fingerprint === warmUp.fingerprint && runs.every((r) => r.fingerprint === warmUp.fingerprint),
  };
}
