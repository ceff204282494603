/**
 * The MACs a topology file leaves out, derived from names so that they are the same in every
 * process and every run, and change only when the names do.
 *
 * Ports get locally administered unicast addresses (`02:…`); VNICs get VMware's
 * vCenter-generated range (`00:50:56:80:00:00` to `00:50:56:bf:ff:ff`) so that traces look like
 * a real vSphere cluster. Both hash the names with `shared/net`'s FNV-1a and its final bit mix.
 * The values are pinned by tests: changing them changes every MAC of every recorded run.
 */

import { utf8Encode } from '../net/bytes.js';
import { FNV1A_OFFSET_BASIS, fnv1a32, mix32 } from '../net/hash.js';
import { formatMac } from '../net/mac.js';
import type { MacAddress } from '../net/mac.js';

/** The name a derivation hashes: `name:part`, plus `#attempt` when an earlier try was taken. */
function derivationKey(name: string, part: string | number, attempt: number): Uint8Array {
  return utf8Encode(attempt === 0 ? `${name}:${part}` : `${name}:${part}#${attempt}`);
}

/**
 * The MAC of port `port` on node `node`: `02:` plus 40 bits of hash of `node:port`. `attempt`
 * perturbs the hash when an earlier port already took the address (vanishingly rare).
 */
export function derivePortMac(node: string, port: string, attempt = 0): MacAddress {
  const key = derivationKey(node, port, attempt);
  const low = mix32(fnv1a32(key));
  const high = mix32(fnv1a32(key, low ^ FNV1A_OFFSET_BASIS));
  return formatMac(new Uint8Array([0x02, high & 0xff, low >>> 24, (low >>> 16) & 0xff, (low >>> 8) & 0xff, low & 0xff]));
}

/**
 * The MAC of VNIC number `index` of VM `vm` when the file gives none: in VMware's
 * vCenter-generated block `00:50:56:80:00:00`–`00:50:56:bf:ff:ff`. `attempt` as for ports.
 */
export function deriveVnicMac(vm: string, index: number, attempt = 0): MacAddress {
  const bits = 0x800000 | (mix32(fnv1a32(derivationKey(vm, index, attempt))) & 0x3fffff);
  return formatMac(new Uint8Array([0x00, 0x50, 0x56, bits >>> 16, (bits >>> 8) & 0xff, bits & 0xff]));
}
