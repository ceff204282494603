/// <reference lib="dom" />
/**
 * Captures started from the canvas's context menu: the page reads `/api/capture` itself, shows
 * each capture in progress (what, frames and bytes so far) over the graph, marks its wire or vNIC
 * line, and saves the pcapng when the person stops it or the run ends. The file is cut at the
 * last whole block, so a stop in the middle of one still opens in Wireshark.
 */
import { h, replace } from '../dom.js';

/** One capture in the page. */
interface Stream {
  readonly field: 'wire' | 'vnic';
  readonly id: string;
  readonly chip: HTMLElement;
  readonly chunks: Uint8Array[];
  bytes: number;
  /** Bytes up to the end of the last whole block. */
  complete: number;
  frames: number;
  state: 'streaming' | 'ended' | 'stopped' | 'failed';
  reader: ReadableStreamDefaultReader<Uint8Array> | null;
  /** What came after the last whole block: the start of the next one. */
  pending: Uint8Array;
}

/** A little-endian 32-bit number at `offset` of `bytes`. */
function u32(bytes: Uint8Array, offset: number): number {
  return (bytes[offset]! | (bytes[offset + 1]! << 8) | (bytes[offset + 2]! << 16) | (bytes[offset + 3]! << 24)) >>> 0;
}

/** The captures of the page, and the layer their chips are drawn in. */
export class CaptureStreams {
  readonly element: HTMLElement;
  private readonly streams = new Map<string, Stream>();

  constructor(private readonly changed: () => void) {
    this.element = h('div', { id: 'capture-streams', class: 'capture-streams', 'aria-live': 'polite' });
  }

  /** Wire and vNIC ids being captured now. */
  active(): Set<string> {
    return new Set([...this.streams.values()].filter((s) => s.state === 'streaming').map((s) => s.id));
  }

  /** Starts capturing a wire or vNIC (again, if an earlier capture of it is over). */
  start(field: 'wire' | 'vnic', id: string): void {
    const existing = this.streams.get(id);
    if (existing?.state === 'streaming') return;
    existing?.chip.remove();
    const chip = h('div', { class: 'capture-chip', 'data-capture': id, 'data-state': 'streaming', 'data-frames': '0' });
    const stream: Stream = { field, id, chip, chunks: [], bytes: 0, complete: 0, frames: 0, state: 'streaming', reader: null, pending: new Uint8Array(0) };
    this.streams.set(id, stream);
    this.element.append(chip);
    this.draw(stream);
    this.changed();
    void this.read(stream);
  }

  private async read(stream: Stream): Promise<void> {
    try {
      const response = await fetch(`/api/capture?${stream.field}=${encodeURIComponent(stream.id)}`, { headers: { Accept: 'application/x-pcapng' } });
      if (!response.ok || !response.body) {
        const body = (await response.json().catch(() => null)) as { error?: string } | null;
        this.fail(stream, body?.error ?? `HTTP ${response.status}`);
        return;
      }
      stream.reader = response.body.getReader();
      let lastDraw = 0;
      for (;;) {
        const { done, value } = await stream.reader.read();
        if (done) break;
        this.add(stream, value);
        // A busy wire sends many chunks a second: the chip is redrawn a few times a second.
        if (performance.now() - lastDraw > 250) {
          lastDraw = performance.now();
          this.draw(stream);
        }
      }
      if (stream.state === 'streaming') stream.state = 'ended';
    } catch (error) {
      if (stream.state === 'streaming') this.fail(stream, error instanceof Error ? error.message : String(error));
      return;
    }
    this.draw(stream);
    this.changed();
  }

  /** Keeps a chunk and counts the whole blocks it completes. */
  private add(stream: Stream, chunk: Uint8Array): void {
    stream.chunks.push(chunk);
    stream.bytes += chunk.length;
    let pending = new Uint8Array(stream.pending.length + chunk.length);
    pending.set(stream.pending);
    pending.set(chunk, stream.pending.length);
    while (pending.length >= 8) {
      const length = u32(pending, 4);
      if (length < 12 || pending.length < length) break;
      // Block type 6: an enhanced packet block, one frame.
      if (u32(pending, 0) === 6) stream.frames++;
      stream.complete += length;
      pending = pending.subarray(length);
    }
    stream.pending = pending;
  }

  private fail(stream: Stream, message: string): void {
    stream.state = 'failed';
    replace(stream.chip, h('span', { class: 'capture-error' }, `Capture of ${stream.id} refused: ${message}`), h('button', { class: 'link', onclick: () => this.dismiss(stream) }, 'dismiss'));
    stream.chip.setAttribute('data-state', 'failed');
    this.changed();
  }

  /** Stops reading (if it still is) and saves what came, cut at the last whole block. */
  private async save(stream: Stream): Promise<void> {
    if (stream.state === 'streaming') {
      stream.state = 'stopped';
      await stream.reader?.cancel().catch(() => undefined);
    }
    const whole = new Uint8Array(stream.complete);
    let at = 0;
    for (const chunk of stream.chunks) {
      if (at >= whole.length) break;
      const part = chunk.subarray(0, Math.min(chunk.length, whole.length - at));
      whole.set(part, at);
      at += part.length;
    }
    const url = URL.createObjectURL(new Blob([whole], { type: 'application/x-pcapng' }));
    const a = h('a', { href: url, download: `${stream.id}.pcapng` });
    document.body.append(a);
    a.click();
    a.remove();
    window.setTimeout(() => URL.revokeObjectURL(url), 10_000);
    this.draw(stream);
    this.changed();
  }

  private dismiss(stream: Stream): void {
    if (stream.state === 'streaming') void stream.reader?.cancel().catch(() => undefined);
    stream.chip.remove();
    this.streams.delete(stream.id);
    this.changed();
  }

  private draw(stream: Stream): void {
    const kb = (stream.bytes / 1024).toFixed(stream.bytes < 10_240 ? 1 : 0);
    const what = `${stream.field === 'wire' ? 'wire' : 'vNIC'} ${stream.id}`;
    const status =
      stream.state === 'streaming'
        ? h('span', { class: 'capture-live' }, '● ', h('strong', {}, `Capturing ${what}`), ` · ${stream.frames.toLocaleString('en-US')} frames · ${kb} kB`)
        : h('span', {}, h('strong', {}, `Capture of ${what}`), ` ${stream.state === 'ended' ? 'complete (the run ended)' : 'stopped'} · ${stream.frames.toLocaleString('en-US')} frames`);
    replace(
      stream.chip,
      status,
      h('button', { class: 'secondary capture-save', 'data-save': stream.id, onclick: () => void this.save(stream) }, stream.state === 'streaming' ? 'Stop & save' : 'Save'),
      stream.state === 'streaming' ? null : h('button', { class: 'link', onclick: () => this.dismiss(stream) }, 'dismiss'),
    );
    stream.chip.setAttribute('data-state', stream.state);
    stream.chip.setAttribute('data-frames', String(stream.frames));
  }
}
