import type { ResolvedTopology } from '../../shared/topology/types.js';
import type { InputPlan, TimedInput } from './controller.js';

/** An input the controller cannot carry out: names the action and what was wrong. */
export class InputError extends Error {
  readonly code = 'invalid-input';
  constructor(message: string) {
    super(message);
    this.name = 'InputError';
  }
}

/**
 * Turns a recorded input (`input.<action>` payload) into what it does to the cluster. The same
 * function serves scenario steps, API and UI actions, and replays of recorded inputs, so a
 * replay does exactly what the run did.
 */
export function planInput(topology: ResolvedTopology, record: TimedInput['record']): InputPlan {
  switch (record.action) {
    case 'link': {
      const wire = topology.wires.find((w) => w.id === record.wire);
      if (!wire) throw new InputError(`Action link: no wire ${String(record.wire)}`);
      if (record.state !== 'up' && record.state !== 'down') throw new InputError(`Action link: state must be up or down, got ${String(record.state)}`);
      const up = record.state === 'up';
      return {
        deliveries: [wire.a, wire.b].map((end) => ({ node: end.node, input: { type: 'link', port: end.port, up } as const })),
      };
    }
    case 'kill': {
      const node = topology.nodes.find((n) => n.id === record.node);
      if (!node) throw new InputError(`Action kill: no node ${String(record.node)}`);
      return { deliveries: [], kill: node.id };
    }
    case 'note':
      if (typeof record.text !== 'string') throw new InputError('Action note: text must be a string');
      return { deliveries: [] };
    default:
      throw new InputError(`Unknown action ${record.action}`);
  }
}
