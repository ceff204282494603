import { describe, expect, it } from 'vitest';
import { encode } from '../../shared/codec.js';
import type { NodeEvent } from '../../shared/events.js';
import {
  decodeEnvelope,
  encodeControllerMessage,
  encodeEnvelope,
  encodeNodeMessage,
  nodeNames,
  parseControllerMessage,
  parseNodeMessage,
  ProtocolError,
  readDoneEvents,
  WireEnvelopeError,
  type ControllerMessage,
} from './protocol.js';

const names = nodeNames([{ id: 'esx-01' }, { id: 'dpu-01a' }]);

/** Writes a float64 little-endian at `offset` of a copy of `bytes`. */
function withF64(bytes: Uint8Array, offset: number, value: number): Uint8Array {
  const copy = bytes.slice();
  new DataView(copy.buffer).setFloat64(offset, value, true);
  return copy;
}

describe('control protocol', () => {
  it('control protocol gives back every controller message as it was sent', () => {
    const messages: ControllerMessage[] = [
      { t: 'setup', topologyJson: JSON.stringify({ name: 'lab', nodes: ['é'] }), seed: -7, incarnation: 2, nodeSeqBase: 1234, wires: [{ direction: 3, endpoint: 'ipc:///tmp/dpl-x/w1', bind: false }] },
      {
        t: 'grant',
        window: 42,
        horizon: 4_000_000_001,
        inputs: [
          { arrival: 0, srcSeq: 0, causeSeq: 5, input: { type: 'boot' } },
          { arrival: 10, srcSeq: 1, causeSeq: null, input: { type: 'end' } },
          { arrival: 20, srcSeq: 2, causeSeq: 6, input: { type: 'link', port: 'p0', up: false } },
          { arrival: 30, srcSeq: 3, causeSeq: 7, input: { type: 'action', action: 'flow.start', args: { flow: { id: 't1', ratePps: 200 } } } },
          { arrival: 40, srcSeq: 4, causeSeq: 8, input: { type: 'impair', port: 'p1', impairments: { loss: 0.25, corrupt: 0, duplicate: 1, jitterNs: 5000 }, durationNs: 20_000_000 } },
        ],
        expect: [[0, 17], [5, 2]],
        dead: [9],
      },
      { t: 'sync', token: 3, expect: [[1, 1]] },
      { t: 'forget', dead: [2, 4] },
      { t: 'rewire', token: 4, wire: { direction: 0, endpoint: 'ipc:///tmp/w0', bind: true } },
      { t: 'inspect', token: 5 },
      { t: 'stop' },
    ];
    for (const message of messages) expect(parseControllerMessage(encodeControllerMessage(message))).toEqual(message);
  });

  it('control protocol gives back a done and its events, causes by node index', () => {
    const events: NodeEvent[] = [
      { vtime: 100, node: 'dpu-01a', nodeSeq: 7, kind: 'frame.tx', cause: { node: 'esx-01', nodeSeq: 3 }, payload: encode({ len: 60 }), volatile: null },
      { vtime: 100, node: 'dpu-01a', nodeSeq: 8, kind: 'node.error', cause: { node: 'controller', nodeSeq: 0 }, payload: encode({}), volatile: encode({ stack: 's' }) },
      { vtime: 120, node: 'dpu-01a', nodeSeq: 9, kind: 'lldp.neighbor', cause: null, payload: encode({ x: 1 }), volatile: null },
    ];
    const bytes = encodeNodeMessage({ t: 'done', window: 9, next: null, sent: [[2, 31, 150], [4, 1, null]], events }, names);
    const done = parseNodeMessage(bytes, 'node dpu-01a');
    expect(done).toMatchObject({ t: 'done', window: 9, next: null, sent: [[2, 31, 150], [4, 1, null]] });
    if (done.t !== 'done') throw new Error('not a done');
    const back = readDoneEvents(done, 'dpu-01a', names);
    expect(back.map((e) => ({ ...e, payload: [...e.payload], volatile: e.volatile && [...e.volatile] }))).toEqual(
      events.map((e) => ({ ...e, payload: [...e.payload], volatile: e.volatile && [...e.volatile] })),
    );
  });

  it('control protocol names the field of a bad grant', () => {
    const grant = encodeControllerMessage({ t: 'grant', window: 1, horizon: 500, inputs: [], expect: [[0, 1]], dead: [] });
    // tag (1) + window (4): the horizon starts at byte 5.
    expect(() => parseControllerMessage(withF64(grant, 5, -3))).toThrow(/field horizon: -3 is not a non-negative integer/);
    expect(() => parseControllerMessage(grant.subarray(0, grant.length - 2))).toThrow(ProtocolError);
    expect(() => parseControllerMessage(grant.subarray(0, grant.length - 2))).toThrow(/field dead: needs 2 bytes, 0 left/);
    expect(() => parseControllerMessage(grant.subarray(0, grant.length - 3))).toThrow(/field expect\[0\]\.count: needs 8 bytes, 7 left/);
    expect(() => parseControllerMessage(new Uint8Array([99]))).toThrow(/Control message from the controller: field t: 99 is not a message from the controller/);
    expect(() => parseControllerMessage(new Uint8Array([...grant, 0]))).toThrow(/1 bytes follow the last field/);
  });

  it('control protocol names the event and field of a bad done', () => {
    const events: NodeEvent[] = [
      { vtime: 1, node: 'esx-01', nodeSeq: 0, kind: 'a', cause: null, payload: encode({}), volatile: null },
      { vtime: 2, node: 'esx-01', nodeSeq: 1, kind: 'b', cause: null, payload: encode({}), volatile: null },
    ];
    const bytes = encodeNodeMessage({ t: 'done', window: 1, next: 5, sent: [], events }, names);
    const done = parseNodeMessage(bytes, 'node esx-01');
    if (done.t !== 'done') throw new Error('not a done');
    // The second event's vtime: header (1 + 4 + 8 + 2), event count (4), then the first event:
    // vtime, nodeSeq, kind, cause (none), payload and its length, volatile (null).
    const second = 1 + 4 + 8 + 2 + 4 + (8 + 8 + 3 + 2 + 4 + events[0]!.payload.length + 4);
    const bad = parseNodeMessage(withF64(bytes, second, 1.5), 'node esx-01');
    if (bad.t !== 'done') throw new Error('not a done');
    expect(() => readDoneEvents(bad, 'esx-01', names)).toThrow(/Control message from node esx-01: field events\[1\]\.vtime: 1.5 is not a non-negative integer/);
    const truncated = parseNodeMessage(bytes.subarray(0, bytes.length - 2), 'node esx-01');
    if (truncated.t !== 'done') throw new Error('not a done');
    expect(() => readDoneEvents(truncated, 'esx-01', names)).toThrow(/field events\[1\]\.volatile: needs 4 bytes, 2 left/);
  });

  it('wire envelope carries a frame and names the bad field of a malformed one', () => {
    const frame = new Uint8Array([1, 2, 3, 4]);
    const bytes = encodeEnvelope({ arrival: 5_000, srcSeq: 1e12 + 3, channel: 'mailbox', causeSeq: 77, bytes: frame });
    const envelope = decodeEnvelope(bytes, 'pcie-01a');
    expect({ ...envelope, bytes: [...envelope.bytes] }).toEqual({ arrival: 5_000, srcSeq: 1e12 + 3, channel: 'mailbox', causeSeq: 77, bytes: [1, 2, 3, 4] });
    const corrupted = decodeEnvelope(encodeEnvelope({ arrival: 1, srcSeq: 2, channel: 'eth', causeSeq: 3, bytes: frame, corrupted: true }), 'up-01a-a');
    expect({ channel: corrupted.channel, corrupted: corrupted.corrupted }).toEqual({ channel: 'eth', corrupted: true });
    expect(() => decodeEnvelope(new Uint8Array(10), 'up-01a-a')).toThrow(WireEnvelopeError);
    expect(() => decodeEnvelope(new Uint8Array(10), 'up-01a-a')).toThrow(/Wire up-01a-a: envelope of 10 bytes is shorter/);
    const badChannel = bytes.slice();
    badChannel[1] = 9;
    expect(() => decodeEnvelope(badChannel, 'up-01a-a')).toThrow(/Wire up-01a-a: envelope field channel: 9 is unknown/);
    expect(() => decodeEnvelope(withF64(bytes, 2, Number.NaN), 'up-01a-a')).toThrow(/envelope field arrival: NaN is not a non-negative integer/);
    const notOurs = bytes.slice();
    notOurs[0] = 0x93;
    expect(() => decodeEnvelope(notOurs, 'up-01a-a')).toThrow(/envelope starts with 147/);
  });
});
