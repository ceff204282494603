import { describe, expect, it } from 'vitest';
import { illegalArc } from './arc-checker.js';
import { VFIO_ARCS } from './vfio.js';

describe('the VF arc checker', () => {
  it('accepts every arc the state machine may take', () => {
    for (const arc of VFIO_ARCS) expect(illegalArc(arc.from, arc.to, 'arc')).toBeNull();
  });

  it('names the arcs VFIO v2 forbids', () => {
    expect(illegalArc('STOP_COPY', 'PRE_COPY', 'arc')).toBe('STOP_COPY -> PRE_COPY is not a VFIO migration v2 arc');
    expect(illegalArc('RUNNING', 'STOP', 'arc')).toBe('RUNNING -> STOP is not a VFIO migration v2 arc');
    expect(illegalArc('ERROR', 'STOP', 'arc')).toBe('ERROR -> STOP: ERROR is left only by a reset');
    expect(illegalArc('STOP', 'RUNNING', 'error')).toBe('an error took the VF to RUNNING, not ERROR');
  });

  it('lets errors into ERROR and resets out of anything', () => {
    expect(illegalArc('RESUMING', 'ERROR', 'error')).toBeNull();
    expect(illegalArc('ERROR', 'RUNNING', 'reset')).toBeNull();
  });
});
