import { createWriteStream, truncateSync } from 'node:fs';
import { request, type IncomingMessage } from 'node:http';
import type { Writable } from 'node:stream';
import { CliError } from './errors.js';

interface CaptureFlags {
  wire?: string;
  vnic?: string;
  output?: string;
}

/** How long to wait for the UI to answer before saying it does not. */
const CONNECT_TIMEOUT_MS = 10_000;

/**
 * Follows the block lengths of a pcapng stream cut into arbitrary chunks: how many bytes end on a
 * whole block (a file cut there is valid) and how many frames (enhanced packet blocks) came.
 */
class BlockCounter {
  /** Bytes up to the end of the last whole block. */
  complete = 0;
  packets = 0;
  private total = 0;
  /** Where the block being received starts, and its first 8 bytes as far as they came. */
  private blockStart = 0;
  private head: number[] = [];

  add(chunk: Uint8Array): void {
    let p = 0;
    while (p < chunk.length) {
      if (this.head.length < 8) {
        const take = Math.min(8 - this.head.length, chunk.length - p);
        for (let i = 0; i < take; i++) this.head.push(chunk[p + i]!);
        p += take;
        continue;
      }
      const h = this.head;
      const length = (h[4]! | (h[5]! << 8) | (h[6]! << 16) | (h[7]! << 24)) >>> 0;
      const end = this.blockStart + length;
      const here = this.total + p;
      const take = Math.min(end - here, chunk.length - p);
      p += take;
      if (this.total + p === end) {
        this.complete = end;
        if (((h[0]! | (h[1]! << 8) | (h[2]! << 16) | (h[3]! << 24)) >>> 0) === 6) this.packets++;
        this.blockStart = end;
        this.head = [];
      }
    }
    this.total += chunk.length;
  }
}

/** The access token and the capture address from the address `dpulab ui` printed. */
function captureAddress(address: string, flags: CaptureFlags): { url: URL; token: string } {
  let base: URL;
  try {
    base = new URL(address);
  } catch {
    throw new CliError(`Invalid URL ${address}: give the address dpulab ui printed (http://127.0.0.1:PORT/?token=...)`);
  }
  if (base.protocol !== 'http:') throw new CliError(`Invalid URL ${address}: dpulab ui serves http://, not ${base.protocol}//`);
  const token = base.searchParams.get('token');
  if (token === null || token === '') throw new CliError(`The URL ${address} has no access token: give the whole address dpulab ui printed, ending in ?token=...`);
  const url = new URL('/api/capture', base.origin);
  if (flags.wire !== undefined) url.searchParams.set('wire', flags.wire);
  else url.searchParams.set('vnic', flags.vnic!);
  return { url, token };
}

/** Sends the request; resolves with the answer, or throws the error that names what went wrong. */
function ask(url: URL, token: string): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { Authorization: `Bearer ${token}`, Accept: 'application/x-pcapng' }, timeout: CONNECT_TIMEOUT_MS }, resolve);
    req.on('timeout', () => req.destroy(new CliError(`No dpulab UI answers at ${url.origin} within ${CONNECT_TIMEOUT_MS / 1000} s`)));
    req.on('error', (error: NodeJS.ErrnoException) => {
      if (error instanceof CliError) reject(error);
      else if (error.code === 'ECONNREFUSED') reject(new CliError(`No dpulab UI answers at ${url.origin} (connection refused): is dpulab ui still running?`));
      else reject(new CliError(`Cannot reach the dpulab UI at ${url.origin}: ${error.message}`));
    });
    req.end();
  });
}

/** The refusal of a UI as an error that says why: its own message when it gave one. */
async function refusal(response: IncomingMessage, origin: string): Promise<CliError> {
  const chunks: Buffer[] = [];
  for await (const chunk of response) chunks.push(chunk as Buffer);
  let message: string | null = null;
  try {
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { error?: unknown };
    if (typeof body.error === 'string') message = body.error;
  } catch {
    /* not a dpulab answer */
  }
  if (response.statusCode === 403) return new CliError(`The UI at ${origin} refused the access token (403): give the address this dpulab ui printed`);
  return new CliError(`The UI at ${origin} refused the capture (${String(response.statusCode)}): ${message ?? 'no reason given; is this a dpulab ui?'}`);
}

/**
 * `dpulab capture URL (--wire ID | --vnic ID) [-o FILE]`: reads the live pcapng stream of a
 * running `dpulab ui` (the address it printed, with its token) to stdout or FILE, until the run
 * ends, the UI stops, or Ctrl-C. `dpulab capture URL --wire up-01a-a | wireshark -k -i -`.
 * With `-o`, a Ctrl-C leaves a valid file: it is cut at the last whole block.
 */
export async function captureCommand(address: string, flags: CaptureFlags): Promise<void> {
  if ((flags.wire === undefined) === (flags.vnic === undefined)) throw new CliError('Give --wire ID or --vnic ID (one of them)');
  const what = flags.wire !== undefined ? `wire ${flags.wire}` : `vNIC ${flags.vnic!}`;
  const { url, token } = captureAddress(address, flags);
  const response = await ask(url, token);
  if (response.statusCode !== 200) throw await refusal(response, url.origin);
  if (!(response.headers['content-type'] ?? '').startsWith('application/x-pcapng')) {
    response.destroy();
    throw new CliError(`The server at ${url.origin} did not answer a pcapng capture (${response.headers['content-type'] ?? 'no content type'}): is this a dpulab ui?`);
  }

  const out: Writable = flags.output !== undefined ? createWriteStream(flags.output) : process.stdout;
  const counter = new BlockCounter();
  const where = flags.output ?? 'stdout';
  const outcome = await new Promise<'ended' | 'stopped' | 'cut'>((resolve, reject) => {
    const stop = (): void => {
      response.destroy();
      resolve('stopped');
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    out.on('error', (error) => {
      response.destroy();
      reject(new CliError(`Cannot write ${where}: ${error.message}`));
    });
    response.on('data', (chunk: Buffer) => {
      counter.add(chunk);
      // Backpressure: a reader that does not keep up slows the stream; the UI drops frames then.
      if (!out.write(chunk)) {
        response.pause();
        out.once('drain', () => response.resume());
      }
    });
    // A chunked stream that was not ended by the server (its last chunk) is incomplete: cut.
    response.on('close', () => resolve(response.complete ? 'ended' : 'cut'));
    response.on('error', () => resolve('cut'));
  });
  if (out !== process.stdout) await new Promise<void>((resolve) => out.end(resolve));
  // A stop or a cut may fall inside a block: a file keeps only whole blocks, so it still opens.
  if (flags.output !== undefined && outcome !== 'ended') truncateSync(flags.output, counter.complete);
  const why = outcome === 'ended' ? 'the run ended' : outcome === 'stopped' ? 'stopped' : 'the UI went away';
  process.stderr.write(`dpulab capture: ${counter.packets} frames of ${what} written to ${where} (${why})\n`);
  if (outcome === 'cut') process.exitCode = 1;
}
