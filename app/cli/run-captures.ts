/**
 * `dpulab run --capture ID -o FILE`: the run writes the pcapng capture of a wire or a vNIC to a
 * file as it goes, block by block, from the same `PcapngCapture` that `dpulab pcap` exports with
 * and `dpulab ui` streams. The file always ends on a whole block, so it can be read while the run
 * goes (`tshark -r`, or `tail -c +1 -f FILE | wireshark -k -i -`) and is complete once it ends.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { capturedWires, PcapngCapture, topologyVnics, type CaptureTarget } from '../../processes/controller/capture.js';
import type { RunHandle } from '../../processes/controller/session.js';
import type { ResolvedTopology } from '../../shared/topology/types.js';
import { CliError } from './errors.js';

/** One capture asked for on the command line: an id and the file its pcapng goes to. */
export interface CaptureRequest {
  readonly id: string;
  readonly file: string;
}

/**
 * Pairs `--capture` ids with `-o` files, in the order given: the n-th `-o` is the n-th capture's
 * file.
 *
 * @throws CliError when the counts differ
 */
export function pairCaptures(ids: readonly string[], files: readonly string[]): CaptureRequest[] {
  if (ids.length !== files.length) {
    if (ids.length === 0) throw new CliError('-o FILE needs --capture ID before it: the wire or vNIC whose frames go to FILE');
    throw new CliError(`Give one -o FILE after each --capture ID (${ids.length} --capture, ${files.length} -o): --capture up-01a-a -o up.pcapng --capture web-01.eth0 -o web.pcapng`);
  }
  return ids.map((id, i) => ({ id, file: files[i]! }));
}

/**
 * What an id names in `topology`: a wire (as `dpulab pcap --wire` takes it) or else a vNIC (as
 * `--vnic` takes it).
 *
 * @throws CliError naming the id and listing the wires and vNICs the topology has
 */
export function captureTarget(topology: ResolvedTopology, id: string): CaptureTarget {
  if (topology.wires.some((w) => w.id === id)) return { wire: id };
  const vnics = topologyVnics(topology);
  if (vnics.includes(id)) return { vnic: id };
  const wires = topology.wires.map((w) => w.id);
  throw new CliError(`Unknown capture target ${id}: no wire or vNIC of that id in topology ${topology.name} (wires: ${wires.join(', ')}; vNICs: ${vnics.join(', ')})`);
}

/** Captures being written by a run: opened before it starts, closed when it ends. */
export class RunCaptures {
  private readonly open: Array<{ readonly request: CaptureRequest; readonly capture: PcapngCapture; readonly fd: number; readonly what: string }> = [];
  private stopListening: (() => void) | null = null;

  /**
   * Checks every id against the topology and opens every file (writing its header), before a
   * single node process starts.
   *
   * @throws CliError naming an unknown id, or a file that cannot be written
   */
  constructor(topology: ResolvedTopology, requests: readonly CaptureRequest[]) {
    const targets = requests.map((r) => captureTarget(topology, r.id));
    const wires = capturedWires(topology);
    try {
      requests.forEach((request, i) => {
        const target = targets[i]!;
        const capture = PcapngCapture.open(target, wires, topology, `topology ${topology.name}`);
        let fd: number;
        try {
          fd = openSync(request.file, 'w');
        } catch (error) {
          throw new CliError(`Cannot write the capture of ${request.id} to ${request.file}: ${(error as Error).message}`);
        }
        this.open.push({ request, capture, fd, what: 'wire' in target ? `wire ${target.wire}` : `vNIC ${target.vnic}` });
        writeSync(fd, capture.header());
      });
    } catch (error) {
      this.close();
      throw error;
    }
  }

  /** Starts writing the frames of every event the run commits. */
  follow(run: RunHandle): void {
    if (this.open.length === 0) return;
    this.stopListening = run.onEvents((events) => {
      for (const c of this.open) {
        const bytes = c.capture.append(events);
        // Whole blocks in one write: a reader of the growing file never sees half a block.
        if (bytes.length > 0) writeSync(c.fd, bytes);
      }
    });
  }

  /** Writes the frames still held, closes the files; returns a line per capture for the person who asked. */
  finish(): string[] {
    this.stopListening?.();
    this.stopListening = null;
    const lines = this.open.map((c) => {
      const rest = c.capture.finish();
      if (rest.length > 0) writeSync(c.fd, rest);
      const counts = c.capture.counts();
      const detail = 'vnic' in c.capture.target ? ` (${counts.sent} sent, ${counts.received} received)` : '';
      return `dpulab run: ${counts.packets} frames of ${c.what}${detail} written to ${c.request.file}`;
    });
    this.close();
    return lines;
  }

  private close(): void {
    for (const c of this.open.splice(0)) closeSync(c.fd);
  }
}
