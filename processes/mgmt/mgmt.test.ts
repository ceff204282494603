import { describe, expect, it } from 'vitest';
import { encode } from '../../shared/codec.js';
import { decodeFrame } from '../../shared/net/frame.js';
import { loadDefaultLab } from '../../shared/topology/load.js';
import { TestContext } from '../runtime/testing.js';
import { managerEndpoint, MANAGER_MGMT_IP, MGMT_UDP_PORT, mgmtIp, nodeEndpoint, tableReceivers } from './addresses.js';
import { ManagerClient, MGMT_UNREACHABLE_NS } from './client.js';
import { MgmtMessageError } from './errors.js';
import { buildMgmtFrame, decodeMgmtMessage, encodeMgmtMessage, parseMgmtFrame, type MgmtMessage, type OverlayEntry } from './messages.js';
import { OverlayTableReceiver } from './table-receiver.js';

const lab = loadDefaultLab();

describe('management addresses', () => {
  it('management addresses put the manager at .0.1, hosts in 172.31.1.0/24 and DPUs in 172.31.2.0/24, each with its own port MAC', () => {
    expect([mgmtIp(lab, 'esx-01'), mgmtIp(lab, 'esx-02'), mgmtIp(lab, 'dpu-01a'), mgmtIp(lab, 'dpu-02b')]).toEqual(['172.31.1.10', '172.31.1.11', '172.31.2.10', '172.31.2.13']);
    const node = nodeEndpoint(lab, 'dpu-02b');
    const manager = managerEndpoint(lab, 'dpu-02b');
    expect(node).toMatchObject({ node: 'dpu-02b', port: 'mgmt', ip: '172.31.2.13' });
    expect(manager).toMatchObject({ node: 'vcenter', port: 'dpu-02b', ip: MANAGER_MGMT_IP });
    expect(node.mac).not.toBe(manager.mac);
    expect(tableReceivers(lab)).toEqual(['dpu-01a', 'dpu-01b', 'dpu-02a', 'dpu-02b']);
  });
});

describe('management messages', () => {
  const table: MgmtMessage = {
    t: 'table',
    epoch: 0,
    generation: 3,
    base: 2,
    part: 0,
    parts: 1,
    hosts: [{ host: 'esx-02', tep: '172.16.0.13' }],
    vnics: [{ vnic: 'web-01.eth0', vm: 'web-01', mac: '00:50:56:80:00:01', ipv4: '10.0.1.11', ipv6: null, segment: 'web', host: 'esx-02', tep: '172.16.0.13' }],
  };

  it('management messages cross as UDP 902 frames and come back as they left', () => {
    const frame = buildMgmtFrame(managerEndpoint(lab, 'dpu-01b'), nodeEndpoint(lab, 'dpu-01b'), table);
    const decoded = decodeFrame(frame);
    expect([decoded.ipv4?.src, decoded.ipv4?.dst, decoded.udp?.srcPort, decoded.udp?.dstPort]).toEqual([MANAGER_MGMT_IP, '172.31.2.11', MGMT_UDP_PORT, MGMT_UDP_PORT]);
    expect(parseMgmtFrame(frame)).toEqual(table);
  });

  it('management messages that are not the protocol name what is wrong', () => {
    expect(() => decodeMgmtMessage(new Uint8Array([1, 2, 3]))).toThrow(/does not start with DPMG/);
    const body = encode({ t: 'switchover.commit', id: 1, node: 'esx-02', mid: 'm', vm: 'web-01', from: 'esx-01' });
    const payload = new Uint8Array([0x44, 0x50, 0x4d, 0x47, 1, ...body]);
    expect(() => decodeMgmtMessage(payload)).toThrow(MgmtMessageError);
    expect(() => decodeMgmtMessage(payload)).toThrow(/field to/);
    const wrongVersion = encodeMgmtMessage(table);
    wrongVersion[4] = 9;
    expect(() => decodeMgmtMessage(wrongVersion)).toThrow('Management payload version 9 is not supported; this side reads version 1');
  });
});

describe('ManagerClient', () => {
  function client(): { ctx: TestContext; clock: { now: number }; c: ManagerClient } {
    const clock = { now: 1_000 };
    const ctx = new TestContext('esx-01', { clock });
    return { ctx, clock, c: new ManagerClient(lab, 'esx-01') };
  }

  function fire(ctx: TestContext, c: ManagerClient, _clock: { now: number }, until: number): void {
    ctx.advance(until, (name, data) => c.onTimer(ctx, name, data));
  }

  it('ManagerClient retries a request with backoff until answered, and says when the manager went silent and came back', () => {
    const { ctx, clock, c } = client();
    let answered = 0;
    c.request(ctx, 'dpus', (id) => ({ t: 'host.dpus', id, node: 'esx-01', active: 'dpu-01b', standby: 'dpu-01a', reason: 'crash' }), { what: 'the failover', onAnswer: () => ++answered > 0 });
    fire(ctx, c, clock, 1_000 + 400_000_000);
    const sent = ctx.sent.map((s) => s.bytes);
    // 0, 10, 30, 70, 150, 310 ms: six sends in the first 400 ms, every one the same request.
    expect(sent).toHaveLength(6);
    expect(new Set(sent.map((b) => JSON.stringify(parseMgmtFrame(b))))).toHaveProperty('size', 1);
    const silent = ctx.events.filter((e) => e.kind === 'mgmt.unreachable');
    expect(silent).toHaveLength(1);
    expect(silent[0]!.time - 1_000).toBeGreaterThanOrEqual(MGMT_UNREACHABLE_NS);
    expect(silent[0]!.payload.waiting).toEqual(['the failover']);
    const id = (parseMgmtFrame(sent[0]!) as { id: number }).id;
    c.onAnswer(ctx, { t: 'ack', re: id, epoch: 0 });
    expect(answered).toBe(1);
    expect(ctx.events.filter((e) => e.kind === 'mgmt.reachable')).toHaveLength(1);
    expect(ctx.timers).toEqual([]);
  });

  it('ManagerClient gives a request with a deadline up, and a newer request with the same key replaces the older', () => {
    const { ctx, clock, c } = client();
    let gaveUp = false;
    c.request(ctx, 'm/register', (id) => ({ t: 'migration.register', id, node: 'esx-01', mid: 'm', vm: 'web-01', from: 'esx-01', to: 'esx-02' }), { what: 'x', deadlineNs: 250_000_000, onAnswer: () => true, onGiveUp: () => void (gaveUp = true) });
    fire(ctx, c, clock, 1_000 + 250_000_000);
    expect(gaveUp).toBe(true);
    expect(c.has('m/register')).toBe(false);
    c.request(ctx, 'k', (id) => ({ t: 'switchover.query', id, node: 'esx-01', mid: 'm', vm: 'web-01', from: 'esx-01', to: 'esx-02' }), { what: 'q', onAnswer: () => true });
    c.request(ctx, 'k', (id) => ({ t: 'switchover.abort', id, node: 'esx-01', mid: 'm', vm: 'web-01', from: 'esx-01', to: 'esx-02', reason: 'r' }), { what: 'a', onAnswer: () => true });
    expect(c.inspect()).toMatchObject({ pending: [{ key: 'k', what: 'a' }] });
  });
});

describe('OverlayTableReceiver', () => {
  const entry = (vnic: string, host: string, tep: string): OverlayEntry => ({ vnic, vm: vnic.split('.')[0]!, mac: '00:50:56:80:00:01', ipv4: '10.0.1.11', ipv6: null, segment: 'web', host, tep });
  const part = (fields: Partial<Extract<MgmtMessage, { t: 'table' }>>): Extract<MgmtMessage, { t: 'table' }> => ({ t: 'table', epoch: 0, generation: 1, base: 0, part: 0, parts: 1, hosts: [], vnics: [], ...fields });

  it('OverlayTableReceiver applies a generation once all its parts are in, a delta only on the generation it follows', () => {
    const ctx = new TestContext('dpu-01b', { clock: { now: 5 } });
    const applied: string[][] = [];
    const receiver = new OverlayTableReceiver((_hosts, vnics) => {
      applied.push(vnics.map((v) => v.vnic));
      return { hosts: [], vnics: vnics.map((v) => v.vnic) };
    });
    expect(receiver.onTable(ctx, part({ generation: 1, parts: 2, part: 1, vnics: [entry('b.eth0', 'esx-02', '172.16.0.13')] }))).toBeNull();
    expect(receiver.onTable(ctx, part({ generation: 1, parts: 2, part: 0, vnics: [entry('a.eth0', 'esx-02', '172.16.0.13')] }))).toEqual({ epoch: 0, generation: 1 });
    expect(applied).toEqual([['a.eth0', 'b.eth0']]);
    // A delta on a generation it does not hold is not applied: it says what it holds.
    expect(receiver.onTable(ctx, part({ generation: 4, base: 3 }))).toEqual({ epoch: 0, generation: 1 });
    // A retransmitted old generation changes nothing either.
    expect(receiver.onTable(ctx, part({ generation: 1, base: 0 }))).toEqual({ epoch: 0, generation: 1 });
    // The whole table of a restarted manager's epoch is applied whatever it holds.
    expect(receiver.onTable(ctx, part({ epoch: 7, generation: 2, base: null, vnics: [entry('a.eth0', 'esx-01', '172.16.0.10')] }))).toEqual({ epoch: 7, generation: 2 });
    expect(applied).toHaveLength(2);
    expect(ctx.events.filter((e) => e.kind === 'overlay.table').map((e) => [e.payload.generation, e.payload.full])).toEqual([
      [1, false],
      [2, true],
    ]);
  });
});
