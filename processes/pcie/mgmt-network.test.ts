import { describe, expect, it } from 'vitest';
import { buildArpRequest } from '../../shared/net/builders.js';
import { FrameError } from '../../shared/net/errors.js';
import { loadDefaultLab } from '../../shared/topology/load.js';
import { buildHeartbeat, DPU_MGMT_IP, HOST_MGMT_IP } from './heartbeat.js';
import { buildVmotionFrame, vmotionAddress } from '../vds/vmotion-net.js';
import { dpuMgmtEndpoint, dpuMgmtIp, haPeerOf, hostRelay, MgmtNetworkError, mgmtRelayTable } from './mgmt-network.js';
import { buildSyncFrame } from '../dpu/ha/sync-messages.js';

const lab = loadDefaultLab();

describe('management network', () => {
  it('dpuMgmtIp numbers each host’s DPUs from 169.254.0.10 in id order', () => {
    expect(dpuMgmtIp(lab, 'dpu-01a')).toBe('169.254.0.10');
    expect(dpuMgmtIp(lab, 'dpu-01b')).toBe('169.254.0.11');
    expect(dpuMgmtIp(lab, 'dpu-02a')).toBe('169.254.0.10');
    expect(dpuMgmtIp(lab, 'dpu-02b')).toBe('169.254.0.11');
    expect(() => dpuMgmtIp(lab, 'esx-01')).toThrow(MgmtNetworkError);
    expect(dpuMgmtEndpoint(lab, 'dpu-01b')).toEqual({ node: 'dpu-01b', mac: lab.nodes.find((n) => n.id === 'dpu-01b')!.ports.find((p) => p.name === 'pcie')!.mac, ip: '169.254.0.11' });
  });

  it('haPeerOf pairs a host’s active DPU with its standby, both ways', () => {
    expect(haPeerOf(lab, 'dpu-01a')).toBe('dpu-01b');
    expect(haPeerOf(lab, 'dpu-01b')).toBe('dpu-01a');
    expect(haPeerOf(lab, 'dpu-02b')).toBe('dpu-02a');
  });

  it('hostRelay forwards a frame for the other DPU out of its port, unchanged, and keeps the rest for the host', () => {
    const table = mgmtRelayTable(lab, 'esx-01');
    const a = dpuMgmtEndpoint(lab, 'dpu-01a');
    const b = dpuMgmtEndpoint(lab, 'dpu-01b');
    const sync = buildSyncFrame(a, b, { type: 'ack', session: 1, seq: 4 });
    expect(hostRelay(table, 'dpu-01a', sync)).toEqual({ action: 'forward', port: 'dpu-01b' });
    expect(hostRelay(table, 'dpu-01b', buildSyncFrame(b, a, { type: 'bulk-request', reason: 'join' }))).toEqual({ action: 'forward', port: 'dpu-01a' });
    // Back out of the port it came in on: never.
    expect(hostRelay(table, 'dpu-01b', sync)).toEqual({ action: 'drop', reason: 'hairpin' });
    // Heartbeats (to the host, from the point-to-point address) and ARP are the host's own.
    const beat = buildHeartbeat({ mac: b.mac, ip: DPU_MGMT_IP }, { mac: '02:00:00:00:00:01', ip: HOST_MGMT_IP }, { type: 'reply', seq: 1 });
    expect(hostRelay(table, 'dpu-01b', beat)).toEqual({ action: 'local' });
    expect(hostRelay(table, 'dpu-01a', buildArpRequest({ srcMac: a.mac, senderIp: a.ip, targetIp: b.ip }))).toEqual({ action: 'local' });
    expect(hostRelay(table, 'dpu-01a', buildSyncFrame(a, { ...b, ip: '169.254.0.99' }, { type: 'ack', session: 1, seq: 4 }))).toEqual({ action: 'drop', reason: 'unknown-address' });
    expect(() => hostRelay(table, 'dpu-01a', sync.subarray(0, 20))).toThrow(FrameError);
  });

  it('hostRelay keeps vMotion datagrams for the host’s own vmknic and drops those for another host’s', () => {
    expect(mgmtRelayTable(lab, 'esx-01').vmotionIp).toBe(vmotionAddress(lab, 'esx-01').ip);
    const datagram = buildVmotionFrame(lab, 'esx-02', 'esx-01', new Uint8Array([1, 2, 3]));
    expect(hostRelay(mgmtRelayTable(lab, 'esx-01'), 'dpu-01a', datagram)).toEqual({ action: 'local' });
    expect(hostRelay(mgmtRelayTable(lab, 'esx-02'), 'dpu-02a', datagram)).toEqual({ action: 'drop', reason: 'unknown-address' });
  });
});
