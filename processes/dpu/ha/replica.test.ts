import { describe, expect, it } from 'vitest';
import { DistributedFirewall } from '../../vds/dfw/firewall.js';
import { DB, WEB, rule, tcp, udp } from '../../vds/dfw/testing.js';
import { captureState, ChangeTracker } from './change-tracker.js';
import { commitReplica, SyncReplica } from './replica.js';
import type { SyncRecord } from './sync-records.js';
import { SyncLab } from './testing.js';

const SSH = rule({ id: 'ssh', action: 'allow', service: { protocol: 'tcp', destinationPorts: [{ from: 22, to: 22 }] } });
const DNS = rule({ id: 'dns', action: 'allow', service: { protocol: 'udp', destinationPorts: [{ from: 53, to: 53 }] } });
const S = 1_000_000_000;

/** An active DPU's firewall with WEB attached, default drop, SSH and DNS allowed, one SSH and one DNS connection open. */
function activeFirewall(lab: SyncLab): DistributedFirewall {
  const fw = new DistributedFirewall({ node: 'dpu-a', defaultAction: 'drop' });
  fw.attach(WEB);
  fw.setRules(lab.activeCtx, [SSH, DNS], 1);
  const ctx = lab.activeCtx;
  expect(fw.filter(ctx, WEB.vnic, 'out', tcp(WEB, DB, [40000, 22], { syn: true }, 1000)).action).toBe('allow');
  expect(fw.filter(ctx, WEB.vnic, 'in', tcp(DB, WEB, [22, 40000], { syn: true, ack: true }, 5000, 1001)).action).toBe('allow');
  expect(fw.filter(ctx, WEB.vnic, 'out', tcp(WEB, DB, [40000, 22], { ack: true }, 1001, 5001)).action).toBe('allow');
  expect(fw.filter(ctx, WEB.vnic, 'out', udp(WEB, DB, [53000, 53])).action).toBe('allow');
  return fw;
}

function ofKind<K extends SyncRecord['kind']>(records: readonly SyncRecord[], kind: K): Array<Extract<SyncRecord, { kind: K }>> {
  return records.filter((r): r is Extract<SyncRecord, { kind: K }> => r.kind === kind);
}

describe('replica and commit', () => {
  it('commitReplica lets a standby that takes over judge established connections by their entries, as the active did', () => {
    const lab = new SyncLab({ link: { loss: 0.2, duplicate: 0.1, jitterNs: 20_000 }, seed: 5 });
    const active = activeFirewall(lab);
    const tracker = new ChangeTracker();
    lab.snapshot = () => tracker.snapshot(captureState(active, null, [WEB.vnic], lab.clock.now), lab.clock.now);
    lab.receiver.request(lab.standbyCtx, 'join');
    lab.run();
    expect(lab.receiver.inSync()).toBe(true);
    expect(lab.replica.counts()).toEqual({ vnics: 1, connections: 2, macs: 0 });

    // The standby never got the management plane's pushes: its firewall is empty.
    const standby = new DistributedFirewall({ node: 'dpu-b', defaultAction: 'drop' });
    lab.clock.now += 2 * S;
    const summary = commitReplica(lab.standbyCtx, lab.replica, standby);
    expect(summary).toMatchObject({ generation: 1, connections: 2 });
    expect(lab.payloads('ha.sync.commit')).toEqual([{ vnics: [WEB.vnic], connections: 2, generation: 1, macs: 0 }]);

    // The SSH session goes on through the standby without a rule lookup, even once the rule is gone.
    standby.removeRule(lab.standbyCtx, 'ssh');
    const hitsBefore = lab.payloads('dfw.rule.hit').length;
    const verdict = standby.filter(lab.standbyCtx, WEB.vnic, 'out', tcp(WEB, DB, [40000, 22], { ack: true, psh: true }, 1001, 5001, new Uint8Array(10)));
    expect(verdict).toMatchObject({ action: 'allow', established: true, ruleId: 'ssh' });
    expect(lab.payloads('dfw.rule.hit').length).toBe(hitsBefore);
    // A new SSH connection finds no rule any more: the default drops it.
    expect(standby.filter(lab.standbyCtx, WEB.vnic, 'out', tcp(WEB, DB, [40001, 22], { syn: true }, 7000)).action).toBe('drop');
    const [connection] = standby.connections(WEB.vnic).filter((c) => c.protocol === 'tcp');
    expect(connection).toMatchObject({ state: 'established', ruleId: 'ssh' });
  });

  it('commitReplica works on a DPU set to another DFW export version, and forget drops a vNIC from the replica', () => {
    const lab = new SyncLab();
    const active = activeFirewall(lab);
    const replica = new SyncReplica();
    replica.apply(new ChangeTracker().snapshot(captureState(active, null, [WEB.vnic], 0), 0), 0);
    const standby = new DistributedFirewall({ node: 'dpu-b', defaultAction: 'drop', exportVersion: 3 });
    expect(commitReplica(lab.standbyCtx, replica, standby).connections).toBe(2);
    replica.forget(WEB.vnic);
    expect(replica.vnics()).toEqual([]);
    expect(replica.exportOf(WEB.vnic, 0)).toBeNull();
  });

  it('ChangeTracker sends new and changed connections, refreshes of a timer beyond refreshNs, and deletions', () => {
    const lab = new SyncLab();
    const active = activeFirewall(lab);
    const tracker = new ChangeTracker({ refreshNs: 1 * S });
    const capture = (): ReturnType<typeof captureState> => captureState(active, null, [WEB.vnic], lab.clock.now);
    const first = tracker.changes(capture(), lab.clock.now);
    expect(first.map((r) => r.kind)).toEqual(['rules', 'vnic', 'conntrack']);
    expect(ofKind(first, 'conntrack')[0]!.fragment.connections).toHaveLength(2);
    expect(tracker.changes(capture(), lab.clock.now)).toEqual([]);

    // Traffic half a second later pushes the SSH timer back by half a second: not worth a message.
    lab.clock.now += S / 2;
    active.filter(lab.activeCtx, WEB.vnic, 'out', tcp(WEB, DB, [40000, 22], { ack: true }, 1001, 5001));
    expect(tracker.changes(capture(), lab.clock.now)).toEqual([]);
    lab.clock.now += 2 * S;
    active.filter(lab.activeCtx, WEB.vnic, 'out', tcp(WEB, DB, [40000, 22], { ack: true }, 1001, 5001));
    const refreshed = ofKind(tracker.changes(capture(), lab.clock.now), 'conntrack');
    expect(refreshed.map((r) => r.fragment.connections.map((c) => c.tuple.dstPort))).toEqual([[22]]);

    // A FIN changes the state: sent at once.
    active.filter(lab.activeCtx, WEB.vnic, 'out', tcp(WEB, DB, [40000, 22], { fin: true, ack: true }, 1001, 5001));
    const closing = ofKind(tracker.changes(capture(), lab.clock.now), 'conntrack');
    expect(closing[0]!.fragment.connections[0]!.state).not.toBe('established');

    // The DNS entry times out on the active: the standby is told to delete it.
    const replica = new SyncReplica();
    replica.apply(tracker.snapshot(capture(), lab.clock.now), lab.clock.now);
    expect(replica.counts().connections).toBe(2);
    lab.clock.now += 60 * S;
    const changes = tracker.changes(capture(), lab.clock.now);
    const expired = ofKind(changes, 'conntrack');
    expect(expired.flatMap((r) => r.deleted.map((t) => t.dstPort))).toEqual([53]);
    replica.apply(changes, lab.clock.now);
    expect(replica.exportOf(WEB.vnic, lab.clock.now)!.connections.map((c) => c.tuple.dstPort)).toEqual([22]);
    expect(replica.counts().connections).toBe(1);

    // A rule change goes as a new generation; a vNIC that leaves goes as vnic-gone.
    active.addRule(lab.activeCtx, rule({ id: 'web', action: 'allow', service: { protocol: 'tcp', destinationPorts: [{ from: 80, to: 80 }] } }));
    active.detach(WEB.vnic);
    const last = tracker.changes(capture(), lab.clock.now);
    expect(last.map((r) => r.kind)).toEqual(['rules', 'vnic-gone']);
    expect(ofKind(last, 'rules')[0]!.generation).toBe(2);
  });

  it('SyncReplica applies records to a copy whose exports count idle time from the standby’s clock', () => {
    const lab = new SyncLab();
    const active = activeFirewall(lab);
    const tracker = new ChangeTracker();
    const replica = new SyncReplica();
    replica.apply(tracker.snapshot(captureState(active, null, [WEB.vnic], 0), 0), 0);
    const exported = replica.exportOf(WEB.vnic, 10 * S)!;
    const original = active.exportVnic(WEB.vnic, 10 * S);
    expect(exported.connections).toEqual(original.connections);
    expect(exported.identity).toEqual(original.identity);
    // Past the DNS entry's idle timeout it is left out, and pruning forgets it.
    expect(replica.exportOf(WEB.vnic, 61 * S)!.connections.map((c) => c.tuple.protocol)).toEqual(['tcp']);
    expect(replica.prune(61 * S)).toBe(1);
    replica.apply([{ kind: 'mac', segment: 'web', mac: '02:00:00:00:01:09', location: { kind: 'tep', tep: '172.16.0.12' } }], 0);
    expect(replica.counts()).toEqual({ vnics: 1, connections: 1, macs: 1 });
    replica.apply([{ kind: 'reset' }], 0);
    expect(replica.counts()).toEqual({ vnics: 0, connections: 0, macs: 0 });
    expect(replica.exportOf(WEB.vnic, 0)).toBeNull();
  });
});
