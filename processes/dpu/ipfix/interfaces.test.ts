import { describe, expect, test } from 'vitest';
import { loadDefaultLab } from '../../../shared/topology/load.js';
import type { DpuNode } from '../../../shared/topology/types.js';
import { IpfixInterfaces, VNIC_INTERFACE_BASE } from './interfaces.js';

describe('IpfixInterfaces', () => {
  const topology = loadDefaultLab();
  const dpu = (id: string): DpuNode => topology.nodes.find((n): n is DpuNode => n.kind === 'dpu' && n.id === id)!;

  test('numbers uplinks from 1 and a vNIC by its place among every vNIC of the cluster, the same on every DPU', () => {
    const a = new IpfixInterfaces(topology, dpu('dpu-01a'));
    const b = new IpfixInterfaces(topology, dpu('dpu-02a'));
    expect([a.uplink('p0'), a.uplink('p1'), a.uplink('pcie')]).toEqual([1, 2, 0]);
    const ids = ['app-01.eth0', 'app-02.eth0', 'db-01.eth0', 'web-01.eth0', 'web-02.eth0'];
    expect(ids.map((id) => a.vnic(id))).toEqual(ids.map((_, i) => VNIC_INTERFACE_BASE + i));
    // A vNIC on another host (one that moves here by vMotion) has the same index on both DPUs.
    expect(b.vnic('web-01.eth0')).toBe(a.vnic('web-01.eth0'));
  });

  test('gives a vNIC the topology does not name the next free index, and keeps it', () => {
    const a = new IpfixInterfaces(topology, dpu('dpu-01a'));
    const first = a.vnic('stranger.eth0');
    expect(first).toBe(VNIC_INTERFACE_BASE + 5);
    expect(a.vnic('other.eth0')).toBe(first + 1);
    expect(a.vnic('stranger.eth0')).toBe(first);
    expect(a.vnic('web-01.eth0')).toBe(VNIC_INTERFACE_BASE + 3);
  });
});
