import { describe, expect, it } from 'vitest';
import { eventPayload } from '../../shared/events/typed.js';
import type { RecordedEvent } from '../../shared/events.js';
import { NodeRuntime } from './node-runtime.js';
import { chainTopology, scriptedCore } from './testing.js';
import type { NodeContext } from './types.js';

/**
 * Never called: `npm run typecheck` proves through it that emit refuses what the catalogue does
 * not declare. Each @ts-expect-error fails the typecheck if its line ever compiles.
 */
export function emitRefusesWhatTheCatalogueLacks(ctx: NodeContext): void {
  ctx.emit('link.state', { port: 'p0', wire: 'w', up: true });
  // @ts-expect-error a misspelt kind
  ctx.emit('link.sate', { port: 'p0', wire: 'w', up: true });
  // @ts-expect-error a field the kind does not have
  ctx.emit('link.state', { port: 'p0', wire: 'w', up: true, speed: 10 });
  // @ts-expect-error a field the kind requires is missing
  ctx.emit('link.state', { port: 'p0', up: true });
  // @ts-expect-error a field of the wrong type
  ctx.emit('link.state', { port: 'p0', wire: 'w', up: 'yes' });
  // @ts-expect-error inputs are the controller's, never a core's
  ctx.emit('input.note', { action: 'note', text: 'hi' });
  // @ts-expect-error volatile data of another shape than the kind records
  ctx.emit('node.error', { message: 'm', while: 'timer' }, { pid: 1 });
}

describe('NodeContext.emit', () => {
  it('NodeContext.emit records the payload a reader gets back typed by its kind', () => {
    const core = scriptedCore({ boot: (ctx) => ctx.emit('vm.reserve', { vm: 'web-01', memoryMiB: 2048, memoryReservationMiB: 1024 }) });
    const topology = chainTopology(['a', 'b'], [{ a: 'a', b: 'b', latencyNs: 1_000 }]);
    const rt = new NodeRuntime({ topology, nodeId: 'a', seed: 1, incarnation: 0, nodeSeqBase: 0, core });
    rt.deliver({ type: 'input', arrival: 0, src: 'controller', srcSeq: 0, cause: null, input: { type: 'boot' } });
    const [event] = rt.runWindow(1).events;
    const recorded: RecordedEvent = { seq: 0, vtime: event!.vtime, node: event!.node, kind: event!.kind, cause: null, payload: event!.payload, volatile: event!.volatile };
    expect(eventPayload(recorded, 'vm.reserve')).toEqual({ vm: 'web-01', memoryMiB: 2048, memoryReservationMiB: 1024 });
  });
});
