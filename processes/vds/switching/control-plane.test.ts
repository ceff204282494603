import { describe, expect, it } from 'vitest';
import { macFromString } from '../../../shared/net/mac.js';
import { loadDefaultLab } from '../../../shared/topology/load.js';
import { ControlPlane, servingTep } from './control-plane.js';
import { SwitchingError } from './errors.js';
import { switchingLab } from './testing.js';
import { dpuTepIp, hostTepIp, tepMac, tepOf } from './tep.js';

describe('TEP addressing', () => {
  it('TEP addressing gives DPUs 172.16.0.<10 + index> in sorted DPU order', () => {
    const lab = loadDefaultLab();
    expect(['dpu-01a', 'dpu-01b', 'dpu-02a', 'dpu-02b'].map((d) => dpuTepIp(lab, d))).toEqual(['172.16.0.10', '172.16.0.11', '172.16.0.12', '172.16.0.13']);
  });

  it('TEP addressing gives a host without DPUs 172.16.1.<10 + index> in sorted host order', () => {
    const lab = switchingLab();
    expect(hostTepIp(lab, 'kvm-c')).toBe('172.16.1.12');
    expect(tepOf(lab, 'kvm-c')).toEqual({ ip: '172.16.1.12', mac: macFromString('tep:kvm-c') });
  });

  it('TEP addressing derives the TEP MAC from the owner id', () => {
    expect(tepMac('dpu-01a')).toBe(macFromString('tep:dpu-01a'));
    expect(tepMac('dpu-01a')).not.toBe(tepMac('dpu-01b'));
  });

  it('TEP addressing refuses a host whose TEPs live on its DPUs', () => {
    const error = (() => {
      try {
        tepOf(loadDefaultLab(), 'esx-01');
      } catch (e) {
        return e;
      }
      return null;
    })();
    expect(error).toBeInstanceOf(SwitchingError);
    expect((error as SwitchingError).code).toBe('unknown-owner');
  });
});

describe('ControlPlane', () => {
  it('ControlPlane puts every vNIC behind the TEP of its host active DPU', () => {
    const cp = new ControlPlane(loadDefaultLab());
    expect(cp.entries().map((e) => [e.vnic, e.host, e.tep])).toEqual([
      ['app-01.eth0', 'esx-01', '172.16.0.10'],
      ['app-02.eth0', 'esx-02', '172.16.0.12'],
      ['db-01.eth0', 'esx-01', '172.16.0.10'],
      ['web-01.eth0', 'esx-01', '172.16.0.10'],
      ['web-02.eth0', 'esx-02', '172.16.0.12'],
    ]);
    expect(cp.vnic('web-01.eth0')).toEqual({
      vnic: 'web-01.eth0',
      vm: 'web-01',
      mac: cp.vnic('web-01.eth0')!.mac,
      ipv4: '10.0.1.11',
      ipv6: 'fd00:1::11',
      segment: 'web',
      vni: 5001,
      vlan: null,
      host: 'esx-01',
      tep: '172.16.0.10',
    });
  });

  it('ControlPlane puts the vNICs of a host without DPUs behind the host TEP', () => {
    const lab = switchingLab();
    const cp = new ControlPlane(lab);
    expect(cp.vnic('web-c1.eth0')?.tep).toBe('172.16.1.12');
    expect(servingTep(lab, 'esx-b')).toBe('172.16.0.11');
    expect(cp.vnic('old-a.eth0')).toMatchObject({ segment: 'legacy', vni: null, vlan: 100 });
  });

  it('ControlPlane finds a vNIC by (segment, MAC) and by (segment, IP) in any spelling', () => {
    const cp = new ControlPlane(loadDefaultLab());
    const web01 = cp.vnic('web-01.eth0')!;
    expect(cp.lookupMac('web', web01.mac.toUpperCase())?.vnic).toBe('web-01.eth0');
    expect(cp.lookupMac('app', web01.mac)).toBeUndefined();
    expect(cp.lookupIp('web', '10.0.1.11')?.vnic).toBe('web-01.eth0');
    expect(cp.lookupIp('web', 'fd00:1:0:0::11')?.vnic).toBe('web-01.eth0');
    expect(cp.lookupIp('app', '10.0.1.11')).toBeUndefined();
  });

  it('ControlPlane lists the TEPs of a segment once each, sorted', () => {
    const cp = new ControlPlane(switchingLab());
    expect(cp.tepsForSegment('web')).toEqual(['172.16.0.10', '172.16.0.11', '172.16.1.12']);
    expect(cp.tepsForSegment('app')).toEqual(['172.16.0.11']);
    expect(cp.tepsForSegment('nowhere')).toEqual([]);
  });

  it('ControlPlane moves a vNIC on update and its segment TEPs follow', () => {
    const cp = new ControlPlane(switchingLab());
    const moved = cp.update('app-b1.eth0', { host: 'esx-a', tep: '172.16.0.10' });
    expect(moved).toMatchObject({ vnic: 'app-b1.eth0', host: 'esx-a', tep: '172.16.0.10', ipv4: '10.0.2.31' });
    expect(cp.lookupIp('app', '10.0.2.31')?.tep).toBe('172.16.0.10');
    expect(cp.tepsForSegment('app')).toEqual(['172.16.0.10']);
  });

  it('ControlPlane repoints a whole host at its new TEP after a DPU failover', () => {
    const cp = new ControlPlane(loadDefaultLab());
    expect(cp.updateHostTep('esx-01', '172.16.0.11')).toEqual(['app-01.eth0', 'db-01.eth0', 'web-01.eth0']);
    expect(cp.tepsForSegment('app')).toEqual(['172.16.0.11', '172.16.0.12']);
    expect(cp.updateHostTep('esx-01', '172.16.0.11')).toEqual([]);
  });

  it('ControlPlane knows the TEP serving every host, VMs or not, and follows failovers and moves', () => {
    const cp = new ControlPlane(switchingLab());
    expect([cp.hostTep('esx-a'), cp.hostTep('esx-b'), cp.hostTep('kvm-c'), cp.hostTep('nowhere')]).toEqual(['172.16.0.10', '172.16.0.11', '172.16.1.12', undefined]);
    cp.updateHostTep('esx-a', '172.16.0.99');
    expect(cp.hostTep('esx-a')).toBe('172.16.0.99');
    cp.update('app-b1.eth0', { host: 'esx-b', tep: '172.16.0.98' });
    expect(cp.hostTep('esx-b')).toBe('172.16.0.98');
  });

  it('ControlPlane refuses to update a vNIC it does not know', () => {
    const cp = new ControlPlane(loadDefaultLab());
    expect(() => cp.update('ghost.eth0', { host: 'esx-01', tep: '172.16.0.10' })).toThrow(expect.objectContaining({ code: 'unknown-vnic' }));
  });
});
