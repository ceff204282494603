/**
 * The distributed switch, overlay tunnel endpoint and distributed router that a DPU runs on its
 * Arm cores and a host without DPUs runs in software: what the owner of a switch imports.
 */
export * from './actions.js';
export * from './control-plane.js';
export * from './errors.js';
export * from './overlay-switch.js';
export * from './rarp.js';
export * from './tep.js';
export type { LearnedMac, MacLocation } from './mac-learning.js';
export type { UnderlayNeighbor } from './underlay-arp.js';
export type { TeamChange } from './teaming.js';
