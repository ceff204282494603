import { describe, expect, it } from 'vitest';
import { buildUdpIpv4Frame } from '../../../shared/net/builders.js';
import { SyncMessageError } from './errors.js';
import { HA_SYNC_UDP_PORT } from '../../pcie/mgmt-network.js';
import { buildSyncFrame, decodeSyncMessage, encodeSyncMessage, syncPayloadOf } from './sync-messages.js';
import type { SyncMessage } from './sync-messages.js';
import type { SyncRecord } from './sync-records.js';
import { LAB_ENDPOINTS, SyncLab, numberOf, numberedRecord } from './testing.js';

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}

/** The numbers of the numbered records applied, in order. */
function numbers(records: readonly SyncRecord[]): number[] {
  return records.map(numberOf).filter((n): n is number => n !== null);
}

/** Sends `count` numbered records from `first`, `perBatch` per flush, `gapNs` apart. */
function stream(lab: SyncLab, first: number, count: number, perBatch: number, gapNs: number): void {
  for (let n = first; n < first + count; n += perBatch) {
    lab.send(range(n, Math.min(n + perBatch, first + count)).map(numberedRecord));
    lab.advance(gapNs);
  }
}

describe('state sync', () => {
  it('SyncReceiver applies every record exactly once and in order across a link that loses, duplicates and reorders', () => {
    const lab = new SyncLab({ link: { loss: 0.2, duplicate: 0.2, jitterNs: 300_000 }, seed: 11 });
    lab.receiver.request(lab.standbyCtx, 'join');
    lab.run();
    expect(lab.receiver.inSync()).toBe(true);

    stream(lab, 0, 2000, 5, 100_000);
    lab.run();

    expect(numbers(lab.applied)).toEqual(range(0, 2000));
    expect(lab.replica.macEntries()).toHaveLength(2000);
    expect(lab.sender.unacked).toBe(0);
    expect(lab.receiver.inSync()).toBe(true);
    // The link really misbehaved, and the protocol really worked around it.
    const receiver = lab.receiver.inspect().counters;
    expect(receiver.duplicates).toBeGreaterThan(0);
    expect(receiver.outOfOrder).toBeGreaterThan(0);
    expect(lab.sender.inspect().counters.resent).toBeGreaterThan(0);
    expect(lab.payloads('ha.sync.gap').length).toBeGreaterThan(0);
    expect(lab.payloads('ha.sync.resend').length).toBeGreaterThan(0);
  });

  it('SyncReceiver acknowledges at least once per ack window even when the sender asks for none', () => {
    const lab = new SyncLab({ sender: { ackWindow: 10, maxMessageBytes: 200 } });
    lab.receiver.request(lab.standbyCtx, 'join');
    lab.run();
    const acksBefore = lab.carried['ack->active'] ?? 0;
    // One flush of 100 records: a message per record or two, one ack request at the end and one per window.
    lab.send(range(0, 100).map(numberedRecord));
    lab.run();
    const messages = lab.sender.inspect().counters.messages - 2;
    const acks = (lab.carried['ack->active'] ?? 0) - acksBefore;
    expect(messages).toBeGreaterThan(30);
    expect(acks).toBeGreaterThanOrEqual(Math.floor(messages / 10));
    expect(lab.sender.unacked).toBe(0);
    expect(numbers(lab.applied)).toEqual(range(0, 100));
  });

  it('SyncReceiver of a restarted standby is brought in sync by a bulk resync, with traffic flowing meanwhile', () => {
    const state = new Map<number, SyncRecord>();
    const lab = new SyncLab({ link: { loss: 0.1, duplicate: 0.1, jitterNs: 50_000 }, seed: 3, snapshot: () => [...state.keys()].sort((a, b) => a - b).map((n) => state.get(n)!) });
    const update = (from: number, to: number): void => {
      for (const n of range(from, to)) state.set(n, numberedRecord(n));
      stream(lab, from, to - from, 4, 20_000);
    };
    lab.receiver.request(lab.standbyCtx, 'join');
    update(0, 300);
    lab.run();
    expect(lab.replica.macEntries()).toHaveLength(300);

    // The standby restarts while updates are on the wire; it joins again and asks for everything.
    update(300, 340);
    lab.restartReceiver();
    expect(lab.receiver.inSync()).toBe(false);
    lab.receiver.request(lab.standbyCtx, 'join');
    update(340, 400);
    lab.run();

    expect(lab.receiver.inSync()).toBe(true);
    expect(lab.replica.macEntries().map((m) => m.mac)).toEqual(range(0, 400).map((n) => (numberedRecord(n) as { mac: string }).mac));
    // The fresh replica holds each record once: the snapshot plus the updates that came after it.
    const applied = numbers(lab.applied);
    expect(new Set(applied).size).toBe(400);
    const bulkStarts = lab.payloads('ha.sync.bulk.start');
    expect(bulkStarts.at(-1)).toMatchObject({ reason: 'request' });
    expect(lab.payloads('ha.sync.bulk.end').length).toBeGreaterThanOrEqual(2);
    expect(lab.payloads('ha.sync.bulk.acked').length).toBeGreaterThanOrEqual(2);
    expect(lab.sender.unacked).toBe(0);
  });

  it('SyncReceiver without a base applies nothing, asks for a bulk, then applies the snapshot and what follows', () => {
    const state = range(0, 50).map(numberedRecord);
    const lab = new SyncLab({ snapshot: () => state });
    lab.send([numberedRecord(1000)]);
    // Long enough for the update to arrive, too short for the snapshot asked for to come back.
    lab.advance(3_000);
    expect(lab.applied).toEqual([]);
    expect(lab.receiver.inspect().counters.beforeBase).toBe(1);
    expect(lab.payloads('ha.sync.request')).toEqual([{ reason: 'no-base' }]);
    lab.run();
    lab.send([numberedRecord(1001)]);
    lab.run();
    expect(numbers(lab.applied)).toEqual([...range(0, 50), 1001]);
    expect(lab.receiver.inSync()).toBe(true);
  });

  it('SyncReceiver asks again for a bulk while its requests are lost', () => {
    const lab = new SyncLab({ link: { loss: 1 }, receiver: { requestRetryNs: 100_000_000 } });
    lab.receiver.request(lab.standbyCtx, 'join');
    lab.advance(350_000_000);
    expect(lab.carried['bulk-request->active']).toBe(4);
    // Only the first attempt is recorded.
    expect(lab.payloads('ha.sync.request')).toEqual([{ reason: 'join' }]);
    lab.impairments = {};
    lab.run();
    expect(lab.receiver.inSync()).toBe(true);
    expect(lab.carried['bulk-request->active']).toBe(5);
  });

  it('SyncSender overflows its resend queue while the standby is unreachable and needs a bulk, which resyncs the standby', () => {
    const state = new Map<number, SyncRecord>();
    const lab = new SyncLab({ sender: { resendQueueLimit: 8 }, snapshot: () => [...state.values()] });
    lab.receiver.request(lab.standbyCtx, 'join');
    lab.run();
    lab.applied = [];
    lab.impairments = { loss: 1 };
    for (const n of range(0, 20)) {
      state.set(n, numberedRecord(n));
      lab.send([numberedRecord(n)]);
      lab.advance(1_000_000);
    }
    expect(lab.sender.unacked).toBe(8);
    expect(lab.sender.needsBulk).toBe(true);
    expect(lab.payloads('ha.sync.overflow')).toHaveLength(1);
    lab.impairments = {};
    lab.advance(3_000_000_000);
    // The messages kept were resent, but the ones dropped from the queue leave a gap nothing fills.
    expect(lab.receiver.inSync()).toBe(false);
    expect(lab.applied).toEqual([]);
    lab.sender.bulk(lab.activeCtx, lab.snapshot());
    lab.run();
    expect(lab.receiver.inSync()).toBe(true);
    expect(numbers(lab.applied)).toEqual(range(0, 20));
    expect(lab.replica.macEntries()).toHaveLength(20);
    expect(lab.sender.needsBulk).toBe(false);
    expect(lab.payloads('ha.sync.bulk.start').at(-1)).toMatchObject({ reason: 'overflow', records: 20 });
  });

  it('SyncSender backs off its resend timeout while nothing is acknowledged and resets it on the next ack', () => {
    const lab = new SyncLab({ link: { loss: 1 }, sender: { resendNs: 10_000_000, maxResendNs: 80_000_000 } });
    lab.send([numberedRecord(1)]);
    lab.advance(400_000_000);
    expect(lab.payloads('ha.sync.resend').map((p) => p.timeoutNs)).toEqual([10_000_000, 20_000_000, 40_000_000, 80_000_000, 80_000_000, 80_000_000, 80_000_000]);
    lab.impairments = {};
    lab.receiver.request(lab.standbyCtx, 'join');
    lab.run();
    expect(lab.sender.inspect().resendTimeoutNs).toBe(10_000_000);
    expect(lab.sender.unacked).toBe(0);
  });

  it('SyncReceiver starts over when the sender restarts with a new session', () => {
    const lab = new SyncLab({ snapshot: () => [numberedRecord(7)] });
    lab.receiver.request(lab.standbyCtx, 'join');
    lab.run();
    lab.send([numberedRecord(1)]);
    lab.run();
    const before = lab.receiver.inspect().session;
    lab.clock.now += 1_000_000;
    lab.restartSender();
    lab.send([numberedRecord(2)]);
    lab.run();
    expect(lab.payloads('ha.sync.session')).toEqual([{ from: before, to: lab.sender.inspect().session }]);
    expect(lab.payloads('ha.sync.request').at(-1)).toEqual({ reason: 'new-session' });
    // Record 2 came before the new base: the snapshot (which holds the active's state) replaces it.
    expect(numbers(lab.applied)).toEqual([7, 1, 7]);
    expect(lab.receiver.inSync()).toBe(true);
    expect(lab.replica.macEntries().map((m) => numberOf({ kind: 'mac', ...m }))).toEqual([7]);
    // A late copy from the previous session changes nothing.
    expect(lab.receiver.onMessage(lab.standbyCtx, { type: 'update', session: before!, seq: 99, ackRequest: true, records: [numberedRecord(3)] })).toEqual([]);
    expect(lab.receiver.inspect()).toMatchObject({ inSync: true, counters: { stale: 1 } });
  });

  it('SyncReceiver drops and counts a malformed sync message and ignores frames that are not state sync', () => {
    const lab = new SyncLab();
    const [from, to] = LAB_ENDPOINTS;
    const frame = (payload: Uint8Array): Uint8Array => buildUdpIpv4Frame({ srcMac: from.mac, dstMac: to.mac, srcIp: from.ip, dstIp: to.ip, srcPort: HA_SYNC_UDP_PORT, dstPort: HA_SYNC_UDP_PORT, payload, ttl: 1 });
    const good = encodeSyncMessage({ type: 'update', session: 5, seq: 1, ackRequest: true, records: [] });
    const wrongVersion = new Uint8Array(good);
    wrongVersion[4] = 9;
    expect(lab.receiver.onFrame(lab.standbyCtx, frame(wrongVersion))).toEqual([]);
    expect(lab.receiver.onFrame(lab.standbyCtx, frame(new Uint8Array([0x44, 0x50, 0x48, 0x41, 1, 0x85])))).toEqual([]);
    const notSync = buildUdpIpv4Frame({ srcMac: from.mac, dstMac: to.mac, srcIp: from.ip, dstIp: to.ip, srcPort: 5999, dstPort: 5999, payload: new Uint8Array(12) });
    expect(lab.receiver.onFrame(lab.standbyCtx, notSync)).toBeNull();
    expect(lab.receiver.inspect().counters.malformed).toBe(2);
    expect(lab.payloads('ha.sync.malformed')).toEqual([
      { side: 'receiver', message: 'Sync payload version 9 is not supported; this side reads version 1' },
      { side: 'receiver', message: 'Sync payload of 6 bytes is not msgpack' },
    ]);
    // A malformed message changed nothing: the stream starts cleanly afterwards.
    expect(lab.receiver.inspect().session).toBeNull();
  });
});

describe('state sync wire format', () => {
  const records: SyncRecord[] = [
    { kind: 'reset' },
    { kind: 'rules', generation: 3, rules: [{ id: 'r1', priority: 10, appliedTo: [], sources: ['any'], destinations: ['any'], service: { protocol: 'tcp', destinationPorts: [{ from: 22, to: 22 }], sourcePorts: [], icmpType: null }, direction: 'in', action: 'allow' }] },
    { kind: 'vnic', vnic: 'web-01.nic0', identity: { vnic: 'web-01.nic0', vm: 'web-01', mac: '02:00:00:00:01:01', ipv4: '10.0.1.11', ipv6: null }, rules: [] },
    {
      kind: 'conntrack',
      vnic: 'web-01.nic0',
      fragment: {
        version: 1,
        vnic: 'web-01.nic0',
        identity: { vnic: 'web-01.nic0', vm: 'web-01', mac: '02:00:00:00:01:01', ipv4: '10.0.1.11', ipv6: null },
        rules: [],
        connections: [
          {
            tuple: { protocol: 'tcp', src: '10.0.1.11', srcPort: 40000, dst: '10.0.2.21', dstPort: 22 },
            direction: 'out',
            ruleId: 'r1',
            state: 'established',
            remainingNs: 5_000_000_000,
            ageNs: 1_000,
            orig: { packets: 3, bytes: 180 },
            reply: { packets: 2, bytes: 120 },
            close: { origFin: null, replyFin: null, origFinAcked: false, replyFinAcked: false },
          },
        ],
      },
      deleted: [{ protocol: 'udp', src: '10.0.1.11', srcPort: 53000, dst: '10.0.2.21', dstPort: 53 }],
    },
    { kind: 'vnic-gone', vnic: 'db-01.nic0' },
    { kind: 'mac', segment: 'web', mac: '02:00:00:00:01:02', location: { kind: 'tep', tep: '172.16.0.12' } },
    { kind: 'mac', segment: 'web', mac: '02:00:00:00:01:03', location: null },
  ];

  it('encodes every message kind into a UDP frame to port 5998 that decodes to the same message', () => {
    const messages: SyncMessage[] = [
      { type: 'bulk', session: 9, seq: 4, bulk: 1, part: 0, last: true, ackRequest: true, records },
      { type: 'update', session: 9, seq: 5, ackRequest: false, records: records.slice(1) },
      { type: 'ack', session: 9, seq: 5 },
      { type: 'bulk-request', reason: 'join' },
    ];
    const [from, to] = LAB_ENDPOINTS;
    for (const message of messages) {
      const payload = syncPayloadOf(buildSyncFrame(from, to, message));
      expect(payload).not.toBeNull();
      expect(decodeSyncMessage(payload!)).toEqual(message);
    }
  });

  it('refuses a payload with a damaged record, naming it', () => {
    const badFragment = { ...records[3], fragment: { ...(records[3] as { fragment: object }).fragment, version: 2 } } as unknown as SyncRecord;
    const cases: Array<[SyncMessage, RegExp]> = [
      [{ type: 'update', session: 1, seq: 1, ackRequest: false, records: [badFragment] }, /record 0 \(conntrack of web-01.nic0\): Firewall export version 2 is not supported/],
      [{ type: 'update', session: 0, seq: 1, ackRequest: false, records: [] }, /field session/],
      [{ type: 'bulk', session: 1, seq: 1, bulk: 1, part: 0, last: false, ackRequest: false, records: [records[5]!] }, /does not start with a reset/],
      [{ type: 'update', session: 1, seq: 1, ackRequest: false, records: [{ kind: 'mac', segment: 'web', mac: 'x', location: { kind: 'moon' } } as unknown as SyncRecord] }, /record 0 field location/],
    ];
    for (const [message, error] of cases) {
      expect(() => decodeSyncMessage(encodeSyncMessage(message))).toThrow(SyncMessageError);
      expect(() => decodeSyncMessage(encodeSyncMessage(message))).toThrow(error);
    }
  });
});
