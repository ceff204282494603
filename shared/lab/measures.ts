/**
 * Named measures: the quantities labs ask about most, spelled as a name and a parameter instead
 * of a kind, a field and a pick. Each expands to a field of matching events, except flow loss,
 * which combines the two ends' reports of a flow.
 */

import type { z } from 'zod';
import type { NAMED_MEASURE_SCHEMAS } from './schema.js';
import type { Condition, EventMatcher, Measure } from './types.js';

/** A named measure as written (`{ name: switchover, vm: web-01 }`), checked. */
export type NamedMeasureSpec = { [K in keyof typeof NAMED_MEASURE_SCHEMAS]: z.output<(typeof NAMED_MEASURE_SCHEMAS)[K]> }[keyof typeof NAMED_MEASURE_SCHEMAS];

/** A topology object a measure names, and the field that names it. */
export interface MeasureReference {
  readonly field: string;
  readonly kind: 'node' | 'host' | 'vm';
  readonly id: string;
}

function matcher(kind: string, nodes: string[], where: Array<[string, Condition]>, show: string[] = []): EventMatcher {
  return { kind, nodes, where, show };
}

/** The measure a name stands for, and the topology objects it names. */
export function expandNamedMeasure(spec: NamedMeasureSpec): { measure: Measure; references: MeasureReference[] } {
  switch (spec.name) {
    case 'switchover':
    case 'downtime': {
      const done = matcher('vmotion.done', [], [['vm', { equals: spec.vm }], ['result', { in: ['success', 'success-emulated'] }]], ['result', 'reason']);
      const what = spec.name === 'switchover' ? 'the switchover time (stun to resume)' : 'the downtime';
      return {
        measure: { type: 'field', matcher: done, field: spec.name === 'switchover' ? 'switchoverNs' : 'downtimeNs', pick: 'last', unit: 'ns', label: `${what} of ${spec.vm}` },
        references: [{ field: 'vm', kind: 'vm', id: spec.vm }],
      };
    }
    case 'detection':
    case 'failover-time': {
      const nodes = spec.host === undefined ? [] : [spec.host];
      const of = spec.host === undefined ? '' : ` of ${spec.host}`;
      const measure: Measure =
        spec.name === 'detection'
          ? { type: 'field', matcher: matcher('dpu.failed', nodes, [], ['dpu', 'reason']), field: 'detectNs', pick: 'max', unit: 'ns', label: `the failover detection time${of}` }
          : { type: 'field', matcher: matcher('dpu.failover.done', nodes, [], ['from', 'to']), field: 'totalNs', pick: 'max', unit: 'ns', label: `the failover time${of}` };
      return { measure, references: spec.host === undefined ? [] : [{ field: 'host', kind: 'host', id: spec.host }] };
    }
    case 'flow-loss':
      return { measure: { type: 'flow-loss', flow: spec.flow, label: `the loss of flow ${spec.flow}` }, references: [] };
    case 'cores':
      return {
        measure: {
          type: 'field',
          matcher: matcher('cost.report', [spec.node], []),
          field: spec.mode === undefined ? 'coresUsed' : `byMode.${spec.mode}.cores`,
          pick: 'last',
          unit: 'cores',
          label: `the cores ${spec.node} used${spec.mode === undefined ? '' : ` in ${spec.mode} mode`}`,
        },
        references: [{ field: 'node', kind: 'node', id: spec.node }],
      };
  }
}
