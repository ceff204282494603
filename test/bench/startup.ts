/**
 * Start-up of a large lab: a generated topology of 32 hosts with 2 DPUs each and 4 switches
 * (100 node processes), from MultiProcessCluster.start() until every node is ready for its first
 * window, then the CPU and memory each node process used to get there.
 */
import { performance } from 'node:perf_hooks';
import { MultiProcessCluster } from '../../processes/controller/multi-process.js';
import { loadTopology } from '../../shared/topology/load.js';
import { BIG_NODES, bigTopologyYaml } from './big-topology.js';
import { emergencyCleanups, fmt, MIB, note, pidExists, procCpuMs, procKiB } from './common.js';

export interface StartupFigure {
  readonly topology: string;
  readonly nodes: number;
  readonly wires: number;
  /** start() until every node is ready. */
  readonly wallMs: number;
  /** CPU (user + system) a node process used until ready, mean over the nodes. */
  readonly cpuMsPerNode: number;
  readonly rssMiB: { readonly mean: number; readonly max: number; readonly total: number };
  /** Proportional set size: shared pages (node binary, libraries) split between the processes sharing them. */
  readonly pssMiB: { readonly mean: number; readonly total: number } | null;
  readonly controllerRssMiB: number;
  readonly stopMs: number;
  readonly disposeMs: number;
  /** Pids that still answered `kill(pid, 0)` after dispose(); expected empty. */
  readonly stillAlive: number[];
}

/**
 * What a large lab costs before it does anything. Ends with stop() and dispose() and checks
 * that no node process survived them.
 */
export async function measureStartup(): Promise<StartupFigure> {
  const topology = loadTopology(bigTopologyYaml(), 'bench-100.yaml');
  if (topology.nodes.length !== BIG_NODES) throw new Error(`bench-100.yaml resolved to ${topology.nodes.length} nodes, expected ${BIG_NODES}`);
  note(`[startup100] ${topology.nodes.length} node processes, ${topology.wires.length} wires`);
  const cluster = new MultiProcessCluster({ topology, seed: 1, log: note });
  const kill = (): void => cluster.killAllNow();
  emergencyCleanups.add(kill);
  try {
    const t0 = performance.now();
    const infos = await cluster.start();
    const wallMs = performance.now() - t0;
    const pids = infos.map((i) => i.pid);
    const cpuMs = pids.map(procCpuMs).filter((v): v is number => v !== null);
    if (cpuMs.length !== pids.length) throw new Error(`CPU time unreadable for ${pids.length - cpuMs.length} node processes`);
    const cpuMsPerNode = cpuMs.reduce((a, b) => a + b, 0) / cpuMs.length;
    note(`      ready in ${fmt(wallMs, 0)} ms, ${fmt(cpuMsPerNode, 0)} ms of CPU per node`);
    const rssKiB = pids.map((pid) => procKiB(pid, 'status', 'VmRSS')).filter((v): v is number => v !== null);
    const pssKiB = pids.map((pid) => procKiB(pid, 'smaps_rollup', 'Pss')).filter((v): v is number => v !== null);
    const controllerRssMiB = process.memoryUsage().rss / MIB;

    const s0 = performance.now();
    await cluster.stop();
    const stopMs = performance.now() - s0;
    const d0 = performance.now();
    await cluster.dispose();
    const disposeMs = performance.now() - d0;
    const rssTotal = rssKiB.reduce((a, b) => a + b, 0);
    const pssTotal = pssKiB.reduce((a, b) => a + b, 0);
    return {
      topology: topology.name,
      nodes: topology.nodes.length,
      wires: topology.wires.length,
      wallMs,
      cpuMsPerNode,
      rssMiB: { mean: rssTotal / rssKiB.length / 1024, max: Math.max(...rssKiB) / 1024, total: rssTotal / 1024 },
      pssMiB: pssKiB.length === pids.length ? { mean: pssTotal / pssKiB.length / 1024, total: pssTotal / 1024 } : null,
      controllerRssMiB,
      stopMs,
      disposeMs,
      stillAlive: pids.filter(pidExists),
    };
  } finally {
    await cluster.dispose();
    emergencyCleanups.delete(kill);
  }
}
