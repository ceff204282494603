import { describe, expect, it } from 'vitest';
import { TestContext } from '../../runtime/testing.js';
import { DeliveryLog, frameDigest, isAnnouncement } from './delivery-log.js';
import { buildRarpAnnouncement } from '../../vds/switching/rarp.js';
import { buildGratuitousArp, buildNeighborAdvertisement } from '../../../shared/net/builders.js';
import { ipv6MulticastMac } from '../../../shared/net/index.js';

function context(clock: { now: number }): TestContext {
  return new TestContext('esx-02', { clock, random: 0 });
}

const frame = (n: number): Uint8Array => new Uint8Array([n, n + 1, n + 2, 0x45]);

describe('DeliveryLog', () => {
  it('remembers when frames came and the digests of the latest ones', () => {
    const clock = { now: 100 };
    const log = new DeliveryLog();
    log.delivered(context(clock), [frame(1)]);
    clock.now = 250;
    log.delivered(context(clock), [frame(2), frame(3)]);
    expect([log.firstNs, log.lastNs]).toEqual([100, 250]);
    expect(log.recent()).toEqual([frame(1), frame(2), frame(3)].map(frameDigest));
  });

  it('reports a frame the source delivered that the destination delivers again, and only those', () => {
    const ctx = context({ now: 0 });
    const events = ctx.events;
    const source = new DeliveryLog();
    source.delivered(ctx, [frame(1), frame(2)]);
    const destination = new DeliveryLog();
    destination.watchFor('web-01', source.recent());
    destination.delivered(ctx, [frame(3), frame(2)]);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ kind: 'vmotion.checker.violation', payload: { vm: 'web-01', checker: 'no-double-delivery' } });
  });

  it('leaves announcements out: the same RARP, gratuitous ARP or unsolicited NA on both hosts is no double delivery', () => {
    const ctx = context({ now: 0 });
    const mac = '00:50:56:00:00:01';
    const rarp = buildRarpAnnouncement(mac);
    const garp = buildGratuitousArp({ srcMac: mac, ip: '10.0.1.11' });
    const na = buildNeighborAdvertisement({ srcMac: mac, dstMac: ipv6MulticastMac('ff02::1'), srcIp: 'fd00:1::11', dstIp: 'ff02::1', solicited: false, override: true });
    expect([rarp, garp, na].map(isAnnouncement)).toEqual([true, true, true]);
    const source = new DeliveryLog();
    source.delivered(ctx, [rarp, garp, na, frame(1)]);
    const destination = new DeliveryLog();
    destination.watchFor('web-01', source.recent());
    destination.delivered(ctx, [rarp, garp, na]);
    expect(ctx.events).toEqual([]);
    destination.delivered(ctx, [frame(1)]);
    expect(ctx.events).toHaveLength(1);
  });
});

