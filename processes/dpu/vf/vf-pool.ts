/**
 * The DPU's virtual functions: a fixed number of them, handed to vNICs lowest index first, so the
 * same sequence of binds gives the same VF numbers in every run.
 */
import type { MacAddress } from '../../../shared/net/mac.js';
import { VfError } from './errors.js';
import { VirtualFunction } from './virtual-function.js';
import type { VirtualFunctionView } from './virtual-function.js';

/** Default number of VFs a DPU offers. */
export const DEFAULT_VF_COUNT = 16;

/** A plain-data view of the pool, for inspectors. */
export interface VfPoolView {
  size: number;
  free: number;
  /** Bound functions only, by index. */
  functions: VirtualFunctionView[];
}

/** A DPU's pool of virtual functions. */
export class VfPool {
  private readonly functions: readonly VirtualFunction[];

  constructor(size: number = DEFAULT_VF_COUNT) {
    if (!Number.isInteger(size) || size < 0) throw new VfError('bad-pool-size', null, `A DPU cannot offer ${size} virtual functions`);
    this.functions = Array.from({ length: size }, (_, i) => new VirtualFunction(i));
  }

  /** Number of functions, bound or free. */
  get size(): number {
    return this.functions.length;
  }

  /** Number of functions not bound to a vNIC. */
  free(): number {
    return this.functions.filter((vf) => vf.vnic === null).length;
  }

  /**
   * Binds the lowest free function to `vnic` (with the vNIC's MAC). A vNIC that already has a
   * function keeps it. Returns null when every function is taken (the host then runs the vNIC
   * emulated, reason `no-free-vf`).
   */
  allocate(vnic: string, mac: MacAddress): VirtualFunction | null {
    const existing = this.byVnic(vnic);
    if (existing !== null) return existing;
    const vf = this.functions.find((f) => f.vnic === null);
    if (vf === undefined) return null;
    vf.bind(vnic, mac);
    return vf;
  }

  /** Unbinds a function (given as itself or by index); returns false when it was not bound. */
  release(vf: VirtualFunction | number): boolean {
    const target = typeof vf === 'number' ? this.functions[vf] : this.functions.find((f) => f === vf);
    if (target === undefined || target.vnic === null) return false;
    target.unbind();
    return true;
  }

  /** The function serving `vnic`, or null. */
  byVnic(vnic: string): VirtualFunction | null {
    return this.functions.find((f) => f.vnic === vnic) ?? null;
  }

  /** The function with this index, or null. */
  byIndex(index: number): VirtualFunction | null {
    return this.functions[index] ?? null;
  }

  /** Every function, by index. */
  all(): readonly VirtualFunction[] {
    return this.functions;
  }

  /** A plain-data view: size, free count, and every bound function. */
  inspect(): VfPoolView {
    return {
      size: this.functions.length,
      free: this.free(),
      functions: this.functions.filter((f) => f.vnic !== null).map((f) => f.inspect()),
    };
  }
}
