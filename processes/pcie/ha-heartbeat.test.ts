import { describe, expect, it } from 'vitest';
import { buildHeartbeat, DPU_MGMT_IP, HOST_MGMT_IP, parseHeartbeat } from './heartbeat.js';
import { bootEpoch, buildHaHeartbeat, parseHaHeartbeat } from './ha-heartbeat.js';
import type { HaHeartbeat } from './ha-heartbeat.js';

const HOST = { mac: '02:00:00:00:00:01', ip: HOST_MGMT_IP };
const DPU = { mac: '02:00:00:00:00:02', ip: DPU_MGMT_IP };

describe('HA heartbeat', () => {
  it('buildHaHeartbeat carries the role, the flags and the epoch, and parseHaHeartbeat reads them back', () => {
    const beats: HaHeartbeat[] = [
      { type: 'request', seq: 7, role: 'standby', uplinksDown: false, synced: false, epoch: null },
      { type: 'reply', seq: 7, role: 'active', uplinksDown: false, synced: true, epoch: bootEpoch(1_234_567_000) },
      { type: 'status', seq: 2, role: 'active', uplinksDown: true, synced: false, epoch: 4_000_000_000 },
      { type: 'reply', seq: 0xffffffff, role: null, uplinksDown: true, synced: true, epoch: 0 },
    ];
    for (const beat of beats) expect(parseHaHeartbeat(buildHaHeartbeat(DPU, HOST, beat))).toEqual(beat);
    expect(bootEpoch(1_234_567_000)).toBe(1_234_567);
    expect(bootEpoch(2 ** 32 * 1000 + 5000)).toBe(5);
  });

  it('parseHaHeartbeat reads version 1 heartbeats with no HA fields, and a version 1 parser still reads version 2 requests and replies', () => {
    expect(parseHaHeartbeat(buildHeartbeat(HOST, DPU, { type: 'request', seq: 3 }))).toEqual({ type: 'request', seq: 3, role: null, uplinksDown: false, synced: false, epoch: null });
    expect(parseHeartbeat(buildHaHeartbeat(HOST, DPU, { type: 'request', seq: 9, role: 'active', uplinksDown: false, synced: false, epoch: null }))).toEqual({ type: 'request', seq: 9 });
    expect(parseHeartbeat(buildHaHeartbeat(DPU, HOST, { type: 'reply', seq: 9, role: 'active', uplinksDown: false, synced: true, epoch: 77 }))).toEqual({ type: 'reply', seq: 9 });
    // A status message is new: the old parser leaves it alone.
    expect(parseHeartbeat(buildHaHeartbeat(DPU, HOST, { type: 'status', seq: 1, role: 'active', uplinksDown: true, synced: false, epoch: 77 }))).toBeNull();
  });
});
