/**
 * The floors: what the machine gives before dpulab does anything, measured in the same run as
 * every other figure so that ratios compare across machines and across a busy or an idle one.
 *
 * - the round trip of one small request and its reply between two Node processes over a ZeroMQ
 *   PAIR socket on ipc:// (the least a window granted by the controller can cost);
 * - the one-way message rate through the project's SendQueue (the most frames a wire can carry);
 * - the wall time of `node -e 0` (the least a node process can take to start).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Pair } from 'zeromq';
import { SendQueue } from '../../processes/node/send-queue.js';
import { emergencyCleanups, exitOf, fmt, median, note, withDeadline } from './common.js';

/** Round trips per trial, trials (the median is reported, after one warm-up trial), and the request's size. */
const ROUND_TRIP = { perTrial: 5_000, trials: 5, bytes: 64 } as const;

/** One-way messages per trial, their size, how many are queued before waiting, and trials. */
const ONE_WAY = { messages: 100_000, bytes: 120, burst: 1024, trials: 3 } as const;

/** `node -e 0` starts timed (the median is reported, after one warm-up start). */
const NODE_STARTS = 9;

export interface FloorsFigure {
  /** Median wall time of one request/reply between two Node processes, in µs. */
  readonly zmqRoundTripUs: number;
  readonly zmqRoundTripTrialsUs: number[];
  /** Median one-way messages per second through a SendQueue, delivery acknowledged. */
  readonly zmqMessagesPerSec: number;
  readonly zmqMessagesTrials: number[];
  /** Median wall time of `node -e 0`, spawn to exit, in ms. */
  readonly nodeStartMs: number;
  readonly nodeStartTrialsMs: number[];
}

/** A PAIR socket bound in a fresh directory, with zmq-peer connected to it in `mode`. */
async function withPeer<T>(mode: string, use: (socket: Pair) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'dpl-bench-'));
  const socket = new Pair({ linger: 0, sendHighWaterMark: 0, receiveHighWaterMark: 0 });
  let child: ChildProcess | null = null;
  const kill = (): void => void child?.kill('SIGKILL');
  emergencyCleanups.add(kill);
  try {
    const endpoint = `ipc://${dir}/w`;
    await socket.bind(endpoint);
    const peer = fileURLToPath(new URL('./zmq-peer.js', import.meta.url));
    child = spawn(process.execPath, [peer, endpoint, mode], { stdio: ['pipe', 'ignore', 'inherit'] });
    const died = exitOf(child).then(() => {
      throw new Error(`zmq-peer exited early (code ${String(child?.exitCode)}, signal ${String(child?.signalCode)})`);
    });
    died.catch(() => undefined);
    const hello = await withDeadline(Promise.race([socket.receive(), died]), 10_000, 'zmq-peer hello');
    if (hello[0]?.toString() !== 'hello') throw new Error('zmq-peer did not say hello');
    return await Promise.race([use(socket), died]);
  } finally {
    socket.close();
    if (child) {
      const gone = exitOf(child);
      child.stdin?.end();
      await withDeadline(gone, 2_000, 'zmq-peer exit').catch(() => {
        child?.kill('SIGKILL');
        return exitOf(child!);
      });
    }
    emergencyCleanups.delete(kill);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Mean µs per request/reply over `count` round trips with an echoing peer. */
async function roundTripTrial(count: number): Promise<number> {
  return withPeer('echo', async (socket) => {
    const request = Buffer.alloc(ROUND_TRIP.bytes, 0x5a);
    const t0 = performance.now();
    for (let i = 0; i < count; i++) {
      await socket.send(request);
      await socket.receive();
    }
    return ((performance.now() - t0) * 1000) / count;
  });
}

/** One-way messages per second pushed through a SendQueue, clocked until the peer acknowledges the last. */
async function oneWayTrial(messages: number): Promise<number> {
  return withPeer(String(messages), async (socket) => {
    const queue = new SendQueue(socket);
    try {
      const payload = Buffer.alloc(ONE_WAY.bytes, 0x5a);
      const ack = socket.receive();
      const t0 = performance.now();
      for (let sent = 0; sent < messages; ) {
        const n = Math.min(ONE_WAY.burst, messages - sent);
        for (let i = 0; i < n; i++) queue.push(payload);
        sent += n;
        await queue.drain();
        if (queue.error) throw queue.error;
      }
      const [answer] = await withDeadline(ack, 60_000, 'zmq-peer acknowledgement');
      const seconds = (performance.now() - t0) / 1000;
      const counted = JSON.parse(answer?.toString() ?? '{}') as { count?: number };
      if (counted.count !== messages) throw new Error(`zmq-peer counted ${String(counted.count)} messages, expected ${messages}`);
      return messages / seconds;
    } finally {
      queue.close();
    }
  });
}

/** Wall ms from spawning `node -e 0` to its exit. */
async function nodeStartTrial(): Promise<number> {
  const t0 = performance.now();
  const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
  await exitOf(child);
  return performance.now() - t0;
}

/** Measures the three floors, each the median of several trials after a warm-up. */
export async function measureFloors(): Promise<FloorsFigure> {
  note(`[floors] ZeroMQ round trip: warm-up, then ${ROUND_TRIP.trials} x ${fmt(ROUND_TRIP.perTrial, 0)}`);
  await roundTripTrial(ROUND_TRIP.perTrial / 5);
  const zmqRoundTripTrialsUs: number[] = [];
  for (let i = 0; i < ROUND_TRIP.trials; i++) zmqRoundTripTrialsUs.push(await roundTripTrial(ROUND_TRIP.perTrial));
  note(`      ${zmqRoundTripTrialsUs.map((us) => fmt(us, 1)).join(', ')} µs`);

  note(`[floors] ZeroMQ one way: ${ONE_WAY.trials} x ${fmt(ONE_WAY.messages, 0)} messages of ${ONE_WAY.bytes} bytes`);
  const zmqMessagesTrials: number[] = [];
  for (let i = 0; i < ONE_WAY.trials; i++) zmqMessagesTrials.push(await oneWayTrial(ONE_WAY.messages));
  note(`      ${zmqMessagesTrials.map((r) => fmt(r, 0)).join(', ')} msg/s`);

  note(`[floors] node -e 0: warm-up, then ${NODE_STARTS} starts`);
  await nodeStartTrial();
  const nodeStartTrialsMs: number[] = [];
  for (let i = 0; i < NODE_STARTS; i++) nodeStartTrialsMs.push(await nodeStartTrial());
  note(`      ${nodeStartTrialsMs.map((ms) => fmt(ms, 1)).join(', ')} ms`);

  return {
    zmqRoundTripUs: median(zmqRoundTripTrialsUs),
    zmqRoundTripTrialsUs,
    zmqMessagesPerSec: median(zmqMessagesTrials),
    zmqMessagesTrials,
    nodeStartMs: median(nodeStartTrialsMs),
    nodeStartTrialsMs,
  };
}
