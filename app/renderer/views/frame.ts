/// <reference lib="dom" />
/**
 * The frame inspector: one `frame.tx` decoded layer by layer in the browser with the same frame
 * library the nodes use (shared/net), including the Ethernet frame inside a GENEVE tunnel, with
 * a hex dump whose bytes are coloured by the layer whose header they belong to.
 */
import { hexToBytes } from '../../../shared/net/bytes.js';
import { tryDecodeFrame, summarizeFrame, type DecodedFrame, type LayerName } from '../../../shared/net/frame.js';
import { api } from '../api.js';
import { h, keyValues } from '../dom.js';
import { vtime } from '../format.js';

/** A header's byte range and the layer it belongs to. */
interface LayerRange {
  readonly layer: string;
  readonly start: number;
  readonly end: number;
  readonly depth: number;
}

/** The header byte ranges of a decoded frame, tunnelled frames included. */
export function layerRanges(frame: DecodedFrame, depth = 0): LayerRange[] {
  const ranges: LayerRange[] = [];
  let start = frame.offset;
  const frameEnd = frame.offset + frame.length;
  for (const layer of frame.layers) {
    if (layer === 'vlan') continue;
    const fields = frame[layer] as { payloadOffset?: number } | undefined;
    const end = layer === 'geneve' && frame.geneve?.inner ? frame.geneve.inner.offset : (fields?.payloadOffset ?? frameEnd);
    ranges.push({ layer, start, end: Math.max(start, end), depth });
    start = Math.max(start, end);
  }
  if (frame.geneve?.inner) ranges.push(...layerRanges(frame.geneve.inner, depth + 1));
  return ranges;
}

function show(value: unknown): string {
  if (value instanceof Uint8Array) return value.length === 0 ? '(none)' : `${value.length} bytes`;
  if (Array.isArray(value)) return value.length === 0 ? '[]' : JSON.stringify(value, (_k, v: unknown) => (v instanceof Uint8Array ? `${v.length} bytes` : v));
  if (value !== null && typeof value === 'object') return JSON.stringify(value, (_k, v: unknown) => (v instanceof Uint8Array ? `${v.length} bytes` : v));
  if (typeof value === 'number' && Number.isInteger(value) && value > 255) return `${value} (0x${value.toString(16)})`;
  return String(value);
}

const HIDDEN_FIELDS = new Set(['payload', 'payloadOffset', 'payloadEnd', 'inner']);

function layerDetails(frame: DecodedFrame, depth: number): HTMLElement[] {
  const out: HTMLElement[] = [];
  for (const layer of frame.layers as LayerName[]) {
    const fields = frame[layer] as unknown as Record<string, unknown> | undefined;
    if (!fields) continue;
    const rows = Object.entries(fields)
      .filter(([k]) => !HIDDEN_FIELDS.has(k))
      .map(([k, v]): [string, string] => [k, show(v)]);
    out.push(h('details', { class: `layer layer-${layer} depth-${depth}`, open: true }, h('summary', {}, h('span', { class: `swatch layer-${layer}` }), depth > 0 ? `inner ${layer}` : layer), keyValues(rows)));
    if (layer === 'geneve' && frame.geneve?.inner) out.push(...layerDetails(frame.geneve.inner, depth + 1));
  }
  if (frame.payload.length > 0) out.push(h('p', { class: 'muted' }, `application payload: ${frame.payload.length} bytes`));
  return out;
}

/** A hex dump, 16 bytes a line, each byte coloured by the header it is part of. */
export function hexDump(bytes: Uint8Array, ranges: readonly LayerRange[], errorOffset: number | null): HTMLElement {
  const layerAt = (offset: number): LayerRange | undefined => {
    let found: LayerRange | undefined;
    for (const r of ranges) if (offset >= r.start && offset < r.end && (!found || r.depth >= found.depth)) found = r;
    return found;
  };
  const lines: HTMLElement[] = [];
  for (let line = 0; line < bytes.length; line += 16) {
    const cells: HTMLElement[] = [];
    let ascii = '';
    for (let i = line; i < Math.min(line + 16, bytes.length); i++) {
      const b = bytes[i]!;
      const layer = layerAt(i);
      const classes = ['byte', layer ? `layer-${layer.layer}` : 'payload', i === errorOffset ? 'error' : ''].filter(Boolean).join(' ');
      cells.push(h('span', { class: classes, title: `${i}${layer ? ` ${layer.layer}` : ''}` }, b.toString(16).padStart(2, '0')));
      ascii += b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.';
    }
    lines.push(h('div', { class: 'hex-line' }, h('span', { class: 'hex-offset' }, line.toString(16).padStart(4, '0')), h('span', { class: 'hex-bytes' }, cells), h('span', { class: 'hex-ascii' }, ascii)));
  }
  return h('div', { class: 'hexdump' }, lines);
}

/** The fields of a PCIe device-channel message, its carried frame as a length. */
function messageTable(channel: string, message: unknown): HTMLElement {
  const fields = message !== null && typeof message === 'object' ? Object.entries(message as Record<string, unknown>) : [];
  return h(
    'details',
    { class: 'layer layer-pcie', open: true },
    h('summary', {}, h('span', { class: 'swatch layer-pcie' }), `PCIe ${channel} message`),
    keyValues(fields.map(([k, v]): [string, string] => [k, k === 'frame' && typeof v === 'string' ? `${v.length / 2} bytes, decoded below` : show(v)])),
  );
}

/**
 * Fetches one frame.tx event and renders it decoded: an Ethernet frame layer by layer, or a PCIe
 * device-channel message with the vNIC frame a `dma` message carries.
 */
export async function frameView(seq: number): Promise<HTMLElement> {
  const frame = await api.frame(seq);
  const meta = keyValues([
    ['wire', `${frame.wire} ${frame.dir} (port ${frame.port}, ${frame.channel})`],
    ['length', `${frame.len} bytes`],
    ['fate', frame.fate],
    ['sent', frame.txStart === null ? '-' : vtime(frame.txStart)],
    ['arrives', frame.arrival === null ? '-' : vtime(frame.arrival)],
  ]);
  const message = frame.message !== null ? messageTable(frame.channel, frame.message) : null;
  if (frame.frame === null) {
    return h('div', { class: 'frame-view' }, h('p', { class: 'frame-summary' }, `PCIe ${frame.channel} message, no frame inside`), meta, message, hexDump(hexToBytes(frame.bytes), [], null));
  }
  const bytes = hexToBytes(frame.frame);
  const result = tryDecodeFrame(bytes);
  if (!result.ok) {
    return h(
      'div',
      { class: 'frame-view' },
      h('p', { class: 'frame-summary error' }, `Does not decode: ${result.error.code} at ${result.error.layer} offset ${result.error.offset}: ${result.error.message}`),
      meta,
      message,
      hexDump(bytes, [], result.error.offset),
    );
  }
  return h('div', { class: 'frame-view' }, h('p', { class: 'frame-summary' }, summarizeFrame(result.frame)), meta, message, h('div', { class: 'layers' }, layerDetails(result.frame, 0)), hexDump(bytes, layerRanges(result.frame), null));
}
