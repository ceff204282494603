/**
 * The vmxnet3 model: the guest driver, the device (host emulated backend and DPU virtual function
 * alike), their plain-data states and the checker that compares them after a hand-off.
 */
export * from './errors.js';
export * from './registers.js';
export * from './state.js';
export * from './ring.js';
export * from './shared-area.js';
export * from './snapshot.js';
export * from './device.js';
export * from './driver.js';
export * from './compare.js';
export * from './rx-filter-key.js';
