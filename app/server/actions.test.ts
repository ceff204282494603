import { describe, expect, it } from 'vitest';
import { DEFAULT_LAB_FILE, DEFAULT_LAB_YAML, loadTopology } from '../../shared/topology/load.js';
import { availableActions, validateAction } from './actions.js';
import { ApiError } from './errors.js';

const topology = loadTopology(DEFAULT_LAB_YAML, DEFAULT_LAB_FILE);

/** The field an invalid record is refused for. */
function refusedField(record: Record<string, unknown>): string | null {
  try {
    validateAction(topology, record);
  } catch (error) {
    if (error instanceof ApiError) {
      expect(error.status).toBe(400);
      return error.field;
    }
    throw error;
  }
  return null;
}

describe('UI actions', () => {
  it('ui action list names every scenario action', () => {
    expect(availableActions()).toEqual(expect.arrayContaining(['dfw.rule.add', 'dfw.rule.remove', 'flow.start', 'flow.stop', 'kill', 'link', 'note', 'vnic.mode']));
  });

  it('ui action is recorded as a scenario step would be, defaults filled in', () => {
    const rule = validateAction(topology, { action: 'dfw.rule.add', rule: { id: 'no-ping', destinations: ['web-02'], service: { protocol: 'tcp', destinationPorts: ['8000-8080'] }, action: 'drop' } });
    expect(rule).toEqual({
      action: 'dfw.rule.add',
      rule: { id: 'no-ping', priority: 1000, appliedTo: ['any'], sources: ['any'], destinations: ['web-02'], service: { protocol: 'tcp', destinationPorts: [{ from: 8000, to: 8080 }], sourcePorts: [], icmpType: null }, direction: 'in-out', action: 'drop' },
    });
    expect(validateAction(topology, { action: 'kill', node: 'dpu-02a' })).toEqual({ action: 'kill', node: 'dpu-02a' });
  });

  it('ui action refused names the field at fault', () => {
    expect(refusedField({ action: 'teleport' })).toBe('record.action');
    expect(refusedField({ action: 'kill' })).toBe('record.node');
    expect(refusedField({ action: 'kill', node: 'dpu-99' })).toBe('record.node');
    expect(refusedField({ action: 'kill', node: 'dpu-02a', force: true })).toBe('record.force');
    expect(refusedField({ action: 'flow.start', flow: { id: 'f', kind: 'udpx', from: 'web-01', to: 'web-02' } })).toBe('record.flow.kind');
    expect(refusedField({ action: 'flow.start', flow: { id: 'f', kind: 'udp', from: 'web-99', to: 'web-02' } })).toBe('record.flow.from');
    expect(refusedField({ action: 'link', wire: 'up-01a-a', state: 'sideways' })).toBe('record.state');
    expect(refusedField({ action: 'vnic.mode', vnic: 'web-01.eth0', mode: 'turbo' })).toBe('record.mode');
    expect(refusedField({ action: 'dfw.rule.add', rule: { id: 'default', action: 'drop' } })).toBe('record.rule.id');
    expect(refusedField({ action: 'flow.start', flow: { id: 'f', kind: 'udp', from: 'web-01', to: '10.0.1.12' } })).toBeNull();
  });
});
