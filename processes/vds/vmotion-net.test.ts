import { describe, expect, it } from 'vitest';
import { buildUdpIpv4Frame } from '../../shared/net/builders.js';
import { FrameError } from '../../shared/net/errors.js';
import { decodeFrame } from '../../shared/net/frame.js';
import { isLocallyAdministeredMac, isUnicastMac } from '../../shared/net/mac.js';
import { loadDefaultLab } from '../../shared/topology/load.js';
import { buildHeartbeat, DPU_MGMT_IP, HOST_MGMT_IP } from '../pcie/heartbeat.js';
import { ROUTER_MAC, tepMac } from './switching/tep.js';
import {
  buildVmotionFrame,
  parseVmotionFrame,
  VMOTION_MAX_PAYLOAD,
  VMOTION_UDP_PORT,
  VMOTION_VNI,
  vmotionAddress,
  vmotionHostOf,
  VmotionNetError,
} from './vmotion-net.js';

const lab = loadDefaultLab();

describe('vMotion network', () => {
  it('vmotionAddress numbers hosts from 172.30.0.10 in id order, with a MAC no other interface has', () => {
    const one = vmotionAddress(lab, 'esx-01');
    const two = vmotionAddress(lab, 'esx-02');
    expect([one.ip, two.ip]).toEqual(['172.30.0.10', '172.30.0.11']);
    expect(vmotionHostOf(lab, '172.30.0.11')).toBe('esx-02');
    expect(vmotionHostOf(lab, '172.30.0.12')).toBeNull();
    const others = new Set<string>([ROUTER_MAC]);
    for (const node of lab.nodes) {
      for (const port of node.ports) others.add(port.mac);
      if (node.kind === 'dpu') others.add(tepMac(node.id));
      if (node.kind === 'host') for (const vm of node.spec.vms) for (const vnic of vm.vnics) others.add(vnic.mac);
    }
    for (const { mac } of [one, two]) {
      expect(isLocallyAdministeredMac(mac) && isUnicastMac(mac)).toBe(true);
      expect(others.has(mac)).toBe(false);
    }
    expect(one.mac).not.toBe(two.mac);
    // The same on every derivation, as every process derives it on its own.
    expect(vmotionAddress(loadDefaultLab(), 'esx-02')).toEqual(two);
    expect(() => vmotionAddress(lab, 'esx-09')).toThrow(VmotionNetError);
  });

  it('buildVmotionFrame is Ethernet/IPv4/UDP 8000 with valid checksums, and parseVmotionFrame reads it back', () => {
    const payload = new Uint8Array([1, 2, 3, 4, 5]);
    const frame = buildVmotionFrame(lab, 'esx-01', 'esx-02', payload);
    const decoded = decodeFrame(frame, { verifyChecksums: true });
    expect(decoded.ethernet).toMatchObject({ src: vmotionAddress(lab, 'esx-01').mac, dst: vmotionAddress(lab, 'esx-02').mac });
    expect(decoded.ipv4).toMatchObject({ src: '172.30.0.10', dst: '172.30.0.11', dontFragment: true });
    expect(decoded.udp).toMatchObject({ srcPort: VMOTION_UDP_PORT, dstPort: VMOTION_UDP_PORT });
    expect(parseVmotionFrame(lab, frame)).toEqual({ from: 'esx-01', to: 'esx-02', payload });
    expect(() => buildVmotionFrame(lab, 'esx-01', 'esx-02', new Uint8Array(VMOTION_MAX_PAYLOAD + 1))).toThrow(expect.objectContaining({ code: 'payload-too-long' }));
    expect(VMOTION_VNI).toBe(0xffffff);
  });

  it('parseVmotionFrame answers null for frames that are not vMotion datagrams', () => {
    const heartbeat = buildHeartbeat({ mac: '02:00:00:00:00:02', ip: DPU_MGMT_IP }, { mac: '02:00:00:00:00:01', ip: HOST_MGMT_IP }, { type: 'reply', seq: 1 });
    expect(parseVmotionFrame(lab, heartbeat)).toBeNull();
    const from = vmotionAddress(lab, 'esx-01');
    const to = vmotionAddress(lab, 'esx-02');
    const udp = (fields: { srcIp?: string; dstIp?: string; dstPort?: number }): Uint8Array =>
      buildUdpIpv4Frame({ srcMac: from.mac, dstMac: to.mac, srcIp: from.ip, dstIp: to.ip, srcPort: 8000, dstPort: 8000, payload: new Uint8Array(4), ...fields });
    expect(parseVmotionFrame(lab, udp({ dstPort: 8001 }))).toBeNull();
    expect(parseVmotionFrame(lab, udp({ dstIp: '172.30.0.99' }))).toBeNull();
    expect(parseVmotionFrame(lab, udp({ srcIp: '10.0.1.11' }))).toBeNull();
  });

  it('parseVmotionFrame throws FrameError for a damaged datagram between two vmknics', () => {
    const frame = buildVmotionFrame(lab, 'esx-02', 'esx-01', new Uint8Array([9, 9, 9, 9]));
    const corrupt = frame.slice();
    corrupt[14 + 20 + 8] = 0xff - 9; // the payload: the UDP checksum no longer matches
    expect(() => parseVmotionFrame(lab, corrupt)).toThrow(FrameError);
    expect(() => parseVmotionFrame(lab, frame.subarray(0, 30))).toThrow(FrameError);
  });
});
