/**
 * Fewer hops? The synchronisation skeleton of the tour, measured both ways over ZeroMQ with no
 * simulation in it: the same windows, with the same participants, replayed by one process per
 * node.
 *
 * - central: the controller grants each window's participants and waits for their `done`s, as
 *   `MultiProcessCluster` does: two hops per window on the critical path, two messages per
 *   participant;
 * - decentralised: each participant publishes its `done` to every other node and to the
 *   controller; every node moves on once it has heard the window's participants, and the
 *   controller only listens: one hop per window, but every `done` reaches every node.
 *
 * The trace comes from running the tour in this process through windows (not instants).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Router, Subscriber } from 'zeromq';
import { planInput } from '../../processes/controller/actions.js';
import { Controller } from '../../processes/controller/controller.js';
import { InProcessCluster } from '../../processes/controller/in-process.js';
import { prepareRun } from '../../processes/controller/session.js';
import type { WindowReport } from '../../processes/controller/cluster.js';
import type { GrantedInput } from '../../processes/runtime/protocol.js';
import { emergencyCleanups, exitOf, fmt, note, procCpuMs, withDeadline } from './common.js';

export interface SyncScheme {
  readonly wallMs: number;
  /** Wall per window, in µs. */
  readonly usPerWindow: number;
  /** CPU of every node process and of the controller's process share, per window, in µs. */
  readonly nodeCpuUsPerWindow: number;
}

export interface SyncFigure {
  readonly windows: number;
  readonly nodes: number;
  readonly meanParticipants: number;
  readonly central: SyncScheme;
  readonly decentralised: SyncScheme;
  /** Decentralised wall over central wall: below 1, the decentralised window wins. */
  readonly decentralisedOverCentral: number;
}

/** The tour's windows, each as the indices of the nodes it grants (participants and input targets). */
async function tourWindows(): Promise<{ windows: number[][]; nodes: number }> {
  const prepared = prepareRun({ seed: 1 });
  const ids = prepared.topology.nodes.map((n) => n.id);
  const windows: number[][] = [];
  class Tracing extends InProcessCluster {
    override async runWindow(horizon: number, participants: readonly string[], inputs: ReadonlyMap<string, GrantedInput[]>): Promise<WindowReport> {
      const granted = new Set([...participants, ...inputs.keys()]);
      windows.push([...granted].map((id) => ids.indexOf(id)).filter((i) => i >= 0).sort((a, b) => a - b));
      return super.runWindow(horizon, participants, inputs);
    }
  }
  const cluster = new Tracing(prepared.topology, prepared.seed);
  // Through windows, as a multi-process run goes: not through instants.
  (cluster as { runInstants?: unknown }).runInstants = undefined;
  await new Controller({ topology: prepared.topology, cluster, sink: { append: () => undefined }, endNs: prepared.endNs, inputs: prepared.inputs, plan: (r) => planInput(prepared.topology, r) }).run();
  return { windows: windows.filter((w) => w.length > 0), nodes: ids.length };
}

async function runScheme(scheme: 'central' | 'decentralised', trace: string, windows: number[][], nodes: number, dir: string): Promise<SyncScheme> {
  const router = new Router({ linger: 0 });
  await router.bind(`ipc://${dir}/ctl`);
  const peer = fileURLToPath(new URL('./sync-peer.js', import.meta.url));
  const children: ChildProcess[] = [];
  const kill = (): void => children.forEach((c) => c.kill('SIGKILL'));
  emergencyCleanups.add(kill);
  try {
    for (let i = 0; i < nodes; i++) children.push(spawn(process.execPath, [peer, trace, String(i), scheme, dir], { stdio: ['pipe', 'ignore', 'inherit'] }));
    // Every node says hello once connected; its routing id is its index.
    for (let i = 0; i < nodes; i++) await router.receive();
    const identities = Array.from({ length: nodes }, (_, i) => Buffer.from(String(i)));
    const cpu0 = children.map((c) => procCpuMs(c.pid!) ?? 0);
    let wallMs: number;
    if (scheme === 'central') {
      const t0 = performance.now();
      for (let w = 0; w < windows.length; w++) {
        const grant = Buffer.alloc(8);
        grant.writeUInt32LE(w, 0);
        for (const p of windows[w]!) await router.send([identities[p]!, grant]);
        for (let k = 0; k < windows[w]!.length; k++) await router.receive();
      }
      wallMs = performance.now() - t0;
    } else {
      // The controller hears every done, as it would to record the events.
      const listener = new Subscriber({ linger: 0 });
      for (let i = 0; i < nodes; i++) listener.connect(`ipc://${dir}/n${i}`);
      listener.subscribe();
      let heard = 0;
      const listening = (async () => {
        for await (const _ of listener) heard++;
      })().catch(() => undefined);
      // Let every subscription reach its publisher before the first window.
      await new Promise((r) => setTimeout(r, 500));
      const t0 = performance.now();
      for (let i = 0; i < nodes; i++) await router.send([identities[i]!, 'go']);
      for (let i = 0; i < nodes; i++) await router.receive();
      wallMs = performance.now() - t0;
      listener.close();
      await listening;
      note(`      the controller heard ${fmt(heard, 0)} dones`);
    }
    const cpu = children.map((c, i) => (procCpuMs(c.pid!) ?? 0) - cpu0[i]!).reduce((a, b) => a + b, 0);
    return { wallMs, usPerWindow: (wallMs * 1000) / windows.length, nodeCpuUsPerWindow: (cpu * 1000) / windows.length };
  } finally {
    for (const c of children) c.stdin?.end();
    await Promise.all(children.map((c) => withDeadline(exitOf(c), 2_000, 'sync peer exit').catch(() => void c.kill('SIGKILL'))));
    emergencyCleanups.delete(kill);
    router.close();
  }
}

/** Replays the tour's windows both ways and compares. */
export async function measureSync(): Promise<SyncFigure> {
  note("[sync] the tour's windows, replayed by one process per node with nothing but the synchronisation");
  const { windows, nodes } = await tourWindows();
  const dir = mkdtempSync(join(tmpdir(), 'dpl-sync-'));
  try {
    const trace = join(dir, 'trace.json');
    writeFileSync(trace, JSON.stringify(windows));
    const central = await runScheme('central', trace, windows, nodes, dir);
    note(`      central: ${fmt(central.usPerWindow, 1)} µs per window`);
    const decentralised = await runScheme('decentralised', trace, windows, nodes, dir);
    note(`      decentralised: ${fmt(decentralised.usPerWindow, 1)} µs per window`);
    return {
      windows: windows.length,
      nodes,
      meanParticipants: windows.reduce((a, w) => a + w.length, 0) / windows.length,
      central,
      decentralised,
      decentralisedOverCentral: decentralised.wallMs / central.wallMs,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
