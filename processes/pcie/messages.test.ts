import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decode, encode } from '../../shared/codec.js';
import { decodeDma, decodeDoorbell, dmaMessageSchema, doorbellMessageSchema, PcieMessageError } from './messages.js';

/** What a decoder answers: the message with its keys in order, or that it refused. */
function answer(run: () => unknown): string {
  try {
    return JSON.stringify(run(), (_k, v: unknown) => (v instanceof Uint8Array ? [...v] : v));
  } catch (error) {
    if (error instanceof PcieMessageError) return 'refused';
    throw error;
  }
}

/** What the schema answers for the same bytes. */
function schemaAnswer(schema: typeof dmaMessageSchema | typeof doorbellMessageSchema, bytes: Uint8Array): string {
  let raw: unknown;
  try {
    raw = decode(bytes);
  } catch {
    return 'refused';
  }
  const parsed = schema.safeParse(raw);
  return parsed.success ? JSON.stringify(parsed.data, (_k, v: unknown) => (v instanceof Uint8Array ? [...v] : v)) : 'refused';
}

/** Field values near and past every limit the schemas set, and of the wrong types. */
const anyValue = fc.oneof(
  fc.constantFrom(0, 1, 2, 15, 16, 8191, 8192, 0xfff, 0x1000, 0xffffffff, 0x100000000, -1, 1.5, Number.NaN),
  fc.constantFrom('tx', 'rx', 'txcomp', 'rxfill', 'uptv2', 'mux', 'emulated', 'web-01.eth0', ''),
  fc.constant(new Uint8Array([1, 2, 3])),
  fc.constant(null),
  fc.boolean(),
);
const fields = ['op', 'vnic', 'mode', 'queue', 'index', 'gen', 'frame', 'rxRing', 'register', 'value', 'extra'];
const message = fc.dictionary(fc.constantFrom(...fields), anyValue);

describe('pcie hot messages', () => {
  it('pcie dma and doorbell decoders answer as their schemas do, keys in the same order', () => {
    fc.assert(
      fc.property(message, (m) => {
        const bytes = encode(m);
        expect(answer(() => decodeDma(bytes))).toBe(schemaAnswer(dmaMessageSchema, bytes));
        expect(answer(() => decodeDoorbell(bytes))).toBe(schemaAnswer(doorbellMessageSchema, bytes));
      }),
      { numRuns: 5000, seed: 13 },
    );
  });

  it('pcie dma decoder names the field it refuses', () => {
    const good = { op: 'tx', vnic: 'web-01.eth0', mode: 'uptv2', queue: 0, index: 5, gen: 1, frame: new Uint8Array([1]) };
    expect(() => decodeDma(encode({ ...good, index: 8192 }))).toThrow('PCIe dma message field index: expected an integer from 0 to 8191');
    expect(() => decodeDma(encode({ ...good, op: 'ping' }))).toThrow(/PCIe dma message field op/);
    expect(() => decodeDma(new Uint8Array([0x82, 0xa2]))).toThrow('PCIe dma message of 2 bytes is not msgpack');
    expect(() => decodeDma(encode([good]))).toThrow('PCIe dma message field (root): expected a map');
  });
});
