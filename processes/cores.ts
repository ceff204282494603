import type { ResolvedNode, ResolvedTopology } from '../shared/topology/types.js';
import { DpuCore } from './dpu/dpu-core.js';
import { HostCore } from './host/host-core.js';
import { ManagerCore } from './manager/manager-core.js';
import type { NodeCore } from './runtime/types.js';
import { SwitchCore } from './switch/switch-core.js';

/** Builds the deterministic core for a node of the topology, by kind. */
export function createCore(node: ResolvedNode, topology: ResolvedTopology): NodeCore {
  switch (node.kind) {
    case 'host':
      return new HostCore(node, topology);
    case 'dpu':
      return new DpuCore(node, topology);
    case 'switch':
      return new SwitchCore(node, topology);
    case 'manager':
      return new ManagerCore(node, topology);
  }
}
