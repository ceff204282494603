/**
 * Only a run's own processes talk on its sockets: a stranger that connects to a wire's socket or
 * to the controller, without the run's token or with a wrong one, is refused at the handshake and
 * counted; its frames never reach a node, the run goes on and records exactly what it would have.
 * A real multi-process run, real ZeroMQ sockets.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Dealer, Pair } from 'zeromq';
import { loadDefaultLab } from '../shared/topology/load.js';
import { encodeEnvelope } from '../processes/runtime/protocol.js';
import { runDirBase } from '../processes/controller/run-dir.js';
import { childrenOf, committedEvents, dpulab, eventually, exited, nodeProcesses, startDpulab, tempDir } from './support/cli.js';

/** The run directory of the controller with this pid. */
function runDirOf(pid: number): string | null {
  for (const entry of readdirSync(runDirBase())) {
    try {
      if (readFileSync(join(runDirBase(), entry, 'controller.pid'), 'utf8') === String(pid)) return join(runDirBase(), entry);
    } catch {
      /* not a run directory */
    }
  }
  return null;
}

describe('strangers on a run', () => {
  const tmp = tempDir();
  afterAll(() => tmp.remove());

  it("a stranger's frame on a wire socket and its message to the controller are refused and counted; the run records nothing of them", async () => {
    const db = join(tmp.dir, 'strangers.db');
    const run = startDpulab(['run', '--realtime', '--until', '60s', '--db', db]);
    try {
      expect(await eventually(() => committedEvents(db) > 30, 60_000, 50), run.output.stderr).toBe(true);
      const dir = runDirOf(run.pid!);
      expect(dir).not.toBeNull();
      // The wire up-01a-a: its `a` end, dpu-01a, binds it.
      const index = loadDefaultLab().wires.findIndex((w) => w.id === 'up-01a-a');
      const wire = `ipc://${dir!}/w${index}`;

      // A well-formed frame from the past, as the one that once aborted a run; no token.
      const past = encodeEnvelope({ arrival: 5, srcSeq: 0, channel: 'eth', causeSeq: 0, bytes: new Uint8Array(64) });
      const bare = new Pair({ linger: 0 });
      bare.connect(wire);
      await bare.send(past);
      // The same with a made-up token.
      const guessing = new Pair({ linger: 0, plainUsername: 'dpulab', plainPassword: 'not-the-token' });
      guessing.connect(wire);
      await guessing.send(past);
      // Garbage to the controller under a made-up identity of a real node.
      const control = new Dealer({ linger: 0, routingId: 'tor-b/7' });
      control.connect(`ipc://${dir!}/ctl`);
      await control.send(new Uint8Array([1, 2, 3]));

      expect(await eventually(() => /\[dpu dpu-01a \d+\] Wire up-01a-a: refused a connection without this run's token \((protocol|auth|other) error/.test(run.output.stderr), 20_000, 50), run.output.stderr).toBe(true);
      expect(await eventually(() => run.output.stderr.includes("[controller] refused a connection without this run's token"), 20_000, 50)).toBe(true);
      for (const socket of [bare, guessing, control]) socket.close();

      // A process of the same user can read a node's environment, token included (the limit of
      // what a token can do, see docs/security.md). Even then, a made-up identity is not acted on.
      const [node] = childrenOf(run.pid!, '--node tor-b');
      const token = readFileSync(`/proc/${node!}/environ`, 'utf8').split('\0').find((v) => v.startsWith('DPULAB_RUN_TOKEN='))!.slice('DPULAB_RUN_TOKEN='.length);
      const insider = new Dealer({ linger: 0, routingId: 'tor-b/7', plainUsername: 'dpulab', plainPassword: token });
      insider.connect(`ipc://${dir!}/ctl`);
      await insider.send(new Uint8Array([1, 2, 3]));
      expect(await eventually(() => run.output.stderr.includes('[controller] ignored a message from "tor-b/7", no live node of this run (1 so far)'), 20_000, 50), run.output.stderr).toBe(true);
      insider.close();

      run.kill('SIGINT');
      expect((await exited(run)).code, run.output.stderr).toBe(130);
    } finally {
      if (run.exitCode === null && run.signalCode === null) run.kill('SIGKILL');
    }
    // No node was killed or hurt, nothing of the strangers is in the log: it replays exactly.
    expect(run.output.stderr).not.toMatch(/killing|fatal/);
    const replay = dpulab(['replay', db, '--verify', '--in-process']);
    expect(replay.code, replay.stdout + replay.stderr).toBe(0);
    expect(replay.stdout).toContain('identical up to its stop');
    expect(nodeProcesses()).toEqual([]);
  });
});
