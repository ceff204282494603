import type { ResolvedNode, ResolvedTopology, ResolvedWire } from '../../shared/topology/types.js';
import type { NodeAction } from '../../shared/actions/node-actions.js';
import type { Channel, NodeContext, NodeCore } from './types.js';

/**
 * Small hand-built topologies and scriptable cores for runtime tests: switches joined in a chain
 * (or any list of wires), each core driven by callbacks.
 */
export function chainTopology(nodes: readonly string[], wires: ReadonlyArray<{ a: string; b: string; latencyNs: number; bandwidthBps?: number; loss?: number }>): ResolvedTopology {
  const ports = new Map<string, string[]>();
  const resolvedWires: ResolvedWire[] = wires.map((w, i) => {
    const aPort = `to-${w.b}`;
    const bPort = `to-${w.a}`;
    ports.set(w.a, [...(ports.get(w.a) ?? []), aPort]);
    ports.set(w.b, [...(ports.get(w.b) ?? []), bPort]);
    return {
      id: `w${i}`,
      kind: 'ethernet',
      a: { node: w.a, port: aPort },
      b: { node: w.b, port: bPort },
      latencyNs: w.latencyNs,
      bandwidthBps: w.bandwidthBps ?? 8e9,
      impairments: { loss: w.loss ?? 0, corrupt: 0, duplicate: 0, jitterNs: 0 },
    };
  });
  const resolvedNodes: ResolvedNode[] = [...nodes].sort().map((id) => ({
    id,
    kind: 'switch',
    ports: (ports.get(id) ?? []).map((name, i) => ({ name, mac: `02:00:00:00:${nodes.indexOf(id).toString(16).padStart(2, '0')}:${i.toString(16).padStart(2, '0')}` })),
    spec: { id, ports: ports.get(id) ?? [], macAgingNs: 300e9 },
  }));
  return { name: 'test', nodes: resolvedNodes, wires: resolvedWires, segments: [] };
}

/** A core whose handlers are the given callbacks; unspecified ones do nothing. */
export function scriptedCore(handlers: Partial<{
  boot: (ctx: NodeContext) => void;
  frame: (ctx: NodeContext, port: string, bytes: Uint8Array, channel: Channel) => void;
  timer: (ctx: NodeContext, name: string, data: unknown) => void;
  link: (ctx: NodeContext, port: string, up: boolean) => void;
  action: (ctx: NodeContext, action: NodeAction) => void;
  end: (ctx: NodeContext) => void;
}>): NodeCore {
  return {
    onBoot: (ctx) => handlers.boot?.(ctx),
    onFrame: (ctx, port, bytes, channel) => handlers.frame?.(ctx, port, bytes, channel),
    onTimer: (ctx, name, data) => handlers.timer?.(ctx, name, data),
    onLink: (ctx, port, up) => handlers.link?.(ctx, port, up),
    onAction: (ctx, action) => handlers.action?.(ctx, action),
    onEnd: (ctx) => handlers.end?.(ctx),
    inspect: () => null,
  };
}
