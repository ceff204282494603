/**
 * The labs dpulab ships, embedded as YAML so that they need no files at run time (in the packed
 * package, the bundled UI and the desktop app alike), in the order a course would take them.
 */

import { DPU_OFFLOAD_LAB } from './dpu-offload.js';
import { KILL_A_DPU_LAB } from './kill-a-dpu.js';
import { MICROSEGMENTATION_LAB } from './microsegmentation.js';
import { PASSTHROUGH_INACTIVE_LAB } from './passthrough-inactive.js';
import { PASSTHROUGH_VMOTION_LAB } from './passthrough-vmotion.js';
import type { BuiltinLab } from './types.js';

export type { BuiltinLab } from './types.js';

/** Every built-in lab. */
export const BUILTIN_LABS: readonly BuiltinLab[] = [DPU_OFFLOAD_LAB, PASSTHROUGH_VMOTION_LAB, MICROSEGMENTATION_LAB, KILL_A_DPU_LAB, PASSTHROUGH_INACTIVE_LAB];

/** The built-in lab with this name, or undefined. */
export function builtinLab(name: string): BuiltinLab | undefined {
  return BUILTIN_LABS.find((lab) => lab.name === name);
}
