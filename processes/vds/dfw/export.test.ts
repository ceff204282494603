import { describe, expect, it } from 'vitest';
import { decode, encode } from '../../../shared/codec.js';
import { NS_PER_S } from '../../../shared/units.js';
import { TestContext } from '../../runtime/testing.js';
import { DfwImportError } from './errors.js';
import { DFW_EXPORT_VERSION } from './export.js';
import type { DfwExport } from './export.js';
import { DistributedFirewall } from './firewall.js';
import { CLIENT, DB, elapse, rule, tcp, udp, WEB } from './testing.js';

const HTTP: readonly [number, number] = [40000, 80];
const HTTP_BACK: readonly [number, number] = [80, 40000];
const RULES = [
  rule({ id: 'http-in', appliedTo: ['web-01'], direction: 'in', service: { protocol: 'tcp', destinationPorts: [{ from: 80, to: 80 }] }, action: 'allow' }),
  rule({ id: 'dns-out', appliedTo: ['web-01'], direction: 'out', service: { protocol: 'udp', destinationPorts: [{ from: 53, to: 53 }] }, action: 'allow' }),
  rule({ id: 'db-only', appliedTo: ['db-01'], action: 'drop' }),
];

/** The source side of a move: WEB with an established HTTP connection and a DNS flow, 100 s in. */
function source(): { fw: DistributedFirewall; ctx: TestContext } {
  const ctx = new TestContext('dpu-a');
  const fw = new DistributedFirewall({ node: 'dpu-a', defaultAction: 'drop' });
  fw.attach(WEB);
  fw.attach(DB);
  fw.setRules(ctx, RULES, 3);
  fw.filter(ctx, WEB.vnic, 'in', tcp(CLIENT, WEB, HTTP, { syn: true }, 100));
  fw.filter(ctx, WEB.vnic, 'out', tcp(WEB, CLIENT, HTTP_BACK, { syn: true, ack: true }, 500, 101));
  fw.filter(ctx, WEB.vnic, 'in', tcp(CLIENT, WEB, HTTP, { ack: true }, 101, 501));
  elapse(ctx, 90);
  fw.filter(ctx, WEB.vnic, 'out', udp(WEB, CLIENT, [5353, 53]));
  elapse(ctx, 10);
  return { fw, ctx };
}

/** A blob as it arrives after crossing the wire. */
function overTheWire(blob: DfwExport): unknown {
  return decode(encode(blob));
}

describe('firewall export and import', () => {
  it('export carries the rules applied to the vNIC and its connections with their remaining timeout', () => {
    const { fw, ctx } = source();
    const blob = fw.exportVnic(WEB.vnic, ctx.time);
    expect(blob.version).toBe(DFW_EXPORT_VERSION);
    expect(blob.vnic).toBe(WEB.vnic);
    expect(blob.rules.map((r) => r.id)).toEqual(['dns-out', 'http-in']);
    expect(blob.connections.map((c) => [c.tuple.protocol, c.state, c.remainingNs / NS_PER_S, c.ruleId])).toEqual([
      ['tcp', 'established', 43_200 - 100, 'http-in'],
      ['udp', 'first-packet', 60 - 10, 'dns-out'],
    ]);
    expect(overTheWire(blob)).toEqual(blob);
  });

  it('import on another firewall keeps state, rule and remaining timeout, and established traffic flows with no rule hit', () => {
    const { fw: from, ctx: fromCtx } = source();
    const blob = overTheWire(from.exportVnic(WEB.vnic, fromCtx.time));

    const ctx = new TestContext('dpu-b');
    ctx.time = fromCtx.time + 2 * NS_PER_S; // the switchover happens a little later
    const to = new DistributedFirewall({ node: 'dpu-b', defaultAction: 'drop' });
    to.setRules(ctx, RULES, 3);
    ctx.clear();
    expect(to.importVnic(blob, ctx.time)).toEqual({ vnic: WEB.vnic, rules: 2, importedRules: 0, connections: 2 });

    const tcpEntry = to.connections(WEB.vnic).find((c) => c.protocol === 'tcp')!;
    expect(tcpEntry).toMatchObject({ state: 'established', ruleId: 'http-in', direction: 'in', src: CLIENT.ip, srcPort: 40000 });
    expect(tcpEntry.expiresAt - ctx.time).toBe((43_200 - 100) * NS_PER_S);
    expect(tcpEntry.orig.packets).toBe(2);

    const data = to.filter(ctx, WEB.vnic, 'out', tcp(WEB, CLIENT, HTTP_BACK, { ack: true, psh: true }, 501, 101, new Uint8Array(64)));
    expect(data).toEqual({ action: 'allow', ruleId: 'http-in', established: true, reply: null });
    const dnsAnswer = to.filter(ctx, WEB.vnic, 'in', udp(CLIENT, WEB, [53, 5353]));
    expect(dnsAnswer).toMatchObject({ action: 'allow', established: true, ruleId: 'dns-out' });
    expect(ctx.payloads('dfw.rule.hit')).toEqual([]);
  });

  it('import of a vNIC whose rules the importer lacks applies them to that vNIC alone', () => {
    const { fw: from, ctx: fromCtx } = source();
    const blob = from.exportVnic(WEB.vnic, fromCtx.time);
    const ctx = new TestContext('dpu-b');
    const to = new DistributedFirewall({ node: 'dpu-b', defaultAction: 'drop' });
    to.attach(DB);
    expect(to.importVnic(blob, ctx.time).importedRules).toBe(2);
    expect(to.filter(ctx, WEB.vnic, 'in', tcp(CLIENT, WEB, [41000, 80], { syn: true }, 1)).ruleId).toBe('http-in');
    expect(to.filter(ctx, DB.vnic, 'in', tcp(CLIENT, DB, [41000, 80], { syn: true }, 1)).ruleId).toBe('default');
    to.setRules(ctx, [], 4); // the management plane's set is authoritative again
    expect(to.filter(ctx, WEB.vnic, 'in', tcp(CLIENT, WEB, [42000, 80], { syn: true }, 1)).ruleId).toBe('default');
  });

  it('import counts remaining time from the importer clock, so entries expire there on time', () => {
    const { fw: from, ctx: fromCtx } = source();
    const blob = from.exportVnic(WEB.vnic, fromCtx.time);
    const ctx = new TestContext('dpu-b');
    ctx.time = 5_000 * NS_PER_S;
    const to = new DistributedFirewall({ node: 'dpu-b' });
    to.importVnic(blob, ctx.time);
    elapse(ctx, 49.9);
    expect(to.sweep(ctx)).toBe(0);
    elapse(ctx, 0.1);
    expect(to.sweep(ctx)).toBe(1);
    expect(ctx.payloads('dfw.conn.expired')).toMatchObject([{ proto: 'udp', rule: 'dns-out', reason: 'timeout' }]);
  });

  it('import of an unknown export version throws DfwImportError unknown-version and changes nothing', () => {
    const { fw: from, ctx: fromCtx } = source();
    const blob = { ...from.exportVnic(WEB.vnic, fromCtx.time), version: 2 };
    const to = new DistributedFirewall({ node: 'dpu-b' });
    let caught: unknown;
    try {
      to.importVnic(blob, 0);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(DfwImportError);
    expect((caught as DfwImportError).code).toBe('unknown-version');
    expect(to.attached(WEB.vnic)).toBe(false);
    expect(to.connections()).toEqual([]);
  });

  it('a firewall set to another export version writes that version and reads nothing else', () => {
    const { fw: from, ctx: fromCtx } = source();
    const v1 = from.exportVnic(WEB.vnic, fromCtx.time);
    const to = new DistributedFirewall({ node: 'dpu-b', exportVersion: 2 });
    expect(to.exportVersion).toBe(2);
    expect(() => to.importVnic(v1, fromCtx.time)).toThrow(expect.objectContaining({ code: 'unknown-version', message: 'Firewall export version 1 is not supported; this firewall reads version 2' }));
    expect(to.attached(WEB.vnic)).toBe(false);
    expect(to.importVnic({ ...v1, version: 2 }, fromCtx.time).connections).toBe(2);
    expect(to.exportVnic(WEB.vnic, fromCtx.time).version).toBe(2);
    expect(() => from.importVnic(to.exportVnic(WEB.vnic, fromCtx.time), fromCtx.time)).toThrow(expect.objectContaining({ code: 'unknown-version' }));
  });

  it('import of a damaged export throws DfwImportError malformed', () => {
    const { fw: from, ctx: fromCtx } = source();
    const good = from.exportVnic(WEB.vnic, fromCtx.time);
    const damaged: unknown[] = [
      null,
      { vnic: WEB.vnic },
      { ...good, connections: [{ ...good.connections[0]!, state: 'dancing' }] },
      { ...good, rules: [{ ...good.rules[0]!, sources: ['10.0.0.1/99'] }] },
    ];
    const to = new DistributedFirewall({ node: 'dpu-b' });
    for (const blob of damaged) {
      expect(() => to.importVnic(blob, 0)).toThrow(expect.objectContaining({ name: 'DfwImportError', code: 'malformed' }));
    }
    expect(to.attached(WEB.vnic)).toBe(false);
  });
});

describe('firewall export shape', () => {
  it('export identity holds exactly the vNIC identity, addresses without prefix length', () => {
    const { fw, ctx } = source();
    expect(fw.exportVnic(WEB.vnic, ctx.time).identity).toEqual({ vnic: WEB.vnic, vm: 'web-01', mac: WEB.mac, ipv4: '10.0.1.11', ipv6: 'fd00:1::11' });
  });
});
