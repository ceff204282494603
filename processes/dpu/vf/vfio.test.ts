import { describe, expect, it } from 'vitest';
import { VFIO_ARCS, VFIO_STATES, dmaAllowed, legalArc, pathTo, vfioStateNumber } from './vfio.js';
import type { VfioState } from './vfio.js';

const arcText = (path: ReadonlyArray<{ from: VfioState; to: VfioState }> | null): string | null => (path === null ? null : path.map((a) => `${a.from}->${a.to}`).join(' '));

describe('VFIO migration state machine', () => {
  it('VFIO numbers its states as the uapi enum does', () => {
    expect(VFIO_STATES.map((s) => [s, vfioStateNumber(s)])).toEqual([
      ['ERROR', 0],
      ['STOP', 1],
      ['RUNNING', 2],
      ['STOP_COPY', 3],
      ['RESUMING', 4],
      ['RUNNING_P2P', 5],
      ['PRE_COPY', 6],
      ['PRE_COPY_P2P', 7],
    ]);
  });

  it('VFIO allows exactly the fifteen direct arcs of migration v2', () => {
    const legal = VFIO_STATES.flatMap((from) => VFIO_STATES.filter((to) => legalArc(from, to)).map((to) => `${from}->${to}`));
    expect(legal.sort()).toEqual(
      [
        'RUNNING->RUNNING_P2P',
        'RUNNING_P2P->RUNNING',
        'RUNNING_P2P->STOP',
        'STOP->RUNNING_P2P',
        'STOP->STOP_COPY',
        'STOP_COPY->STOP',
        'STOP->RESUMING',
        'RESUMING->STOP',
        'RUNNING->PRE_COPY',
        'PRE_COPY->RUNNING',
        'RUNNING_P2P->PRE_COPY_P2P',
        'PRE_COPY_P2P->RUNNING_P2P',
        'PRE_COPY->PRE_COPY_P2P',
        'PRE_COPY_P2P->PRE_COPY',
        'PRE_COPY_P2P->STOP_COPY',
      ].sort(),
    );
    expect(VFIO_ARCS).toHaveLength(15);
    expect(legalArc('STOP_COPY', 'PRE_COPY')).toBe(false);
    expect(legalArc('RUNNING', 'STOP_COPY')).toBe(false);
    expect(legalArc('RUNNING', 'STOP')).toBe(false);
    expect(legalArc('ERROR', 'RUNNING')).toBe(false);
  });

  it('VFIO paths follow the kernel: RUNNING to STOP through RUNNING_P2P, PRE_COPY to STOP_COPY through PRE_COPY_P2P', () => {
    expect(arcText(pathTo('RUNNING', 'STOP'))).toBe('RUNNING->RUNNING_P2P RUNNING_P2P->STOP');
    expect(arcText(pathTo('RUNNING', 'STOP_COPY'))).toBe('RUNNING->RUNNING_P2P RUNNING_P2P->STOP STOP->STOP_COPY');
    expect(arcText(pathTo('PRE_COPY', 'STOP_COPY'))).toBe('PRE_COPY->PRE_COPY_P2P PRE_COPY_P2P->STOP_COPY');
    expect(arcText(pathTo('PRE_COPY', 'STOP'))).toBe('PRE_COPY->RUNNING RUNNING->RUNNING_P2P RUNNING_P2P->STOP');
    expect(arcText(pathTo('STOP_COPY', 'RUNNING'))).toBe('STOP_COPY->STOP STOP->RUNNING_P2P RUNNING_P2P->RUNNING');
    expect(arcText(pathTo('RESUMING', 'RUNNING'))).toBe('RESUMING->STOP STOP->RUNNING_P2P RUNNING_P2P->RUNNING');
    expect(arcText(pathTo('RUNNING', 'RESUMING'))).toBe('RUNNING->RUNNING_P2P RUNNING_P2P->STOP STOP->RESUMING');
    expect(pathTo('RUNNING', 'RUNNING')).toEqual([]);
  });

  it('VFIO refuses requests with no path: STOP_COPY back to PRE_COPY, out of ERROR, into ERROR', () => {
    expect(pathTo('STOP_COPY', 'PRE_COPY')).toBeNull();
    expect(pathTo('STOP_COPY', 'PRE_COPY_P2P')).toBeNull();
    for (const to of VFIO_STATES.filter((s) => s !== 'ERROR')) expect(pathTo('ERROR', to)).toBeNull();
    for (const from of VFIO_STATES.filter((s) => s !== 'ERROR')) expect(pathTo(from, 'ERROR')).toBeNull();
  });

  it('VFIO paths are made of legal arcs only and end at the target', () => {
    let refused = 0;
    for (const from of VFIO_STATES) {
      for (const to of VFIO_STATES) {
        const path = pathTo(from, to);
        if (path === null) {
          refused++;
          continue;
        }
        let at = from;
        for (const arc of path) {
          expect(arc.from).toBe(at);
          expect(legalArc(arc.from, arc.to), `${from} to ${to}: ${arc.from}->${arc.to}`).toBe(true);
          at = arc.to;
        }
        expect(at).toBe(to);
        expect(path.length).toBeLessThanOrEqual(4);
      }
    }
    // ERROR to the 7 others, the 7 others to ERROR, STOP_COPY to the two PRE_COPY states.
    expect(refused).toBe(16);
  });

  it('VFIO allows DMA in the running states only', () => {
    expect(VFIO_STATES.filter(dmaAllowed)).toEqual(['RUNNING', 'RUNNING_P2P', 'PRE_COPY', 'PRE_COPY_P2P']);
  });
});
