/**
 * MAC addresses: parsing what a topology file says, and deriving the ones it leaves out.
 *
 * Derived MACs come from a 32-bit FNV-1a hash of names (with a final bit mix), so they are the same in every process
 * and every run, and change only when the names do. Ports get locally administered unicast
 * addresses (`02:…`); VNICs get VMware's vCenter-generated range (`00:50:56:80:00:00` to
 * `00:50:56:bf:ff:ff`) so that traces look like a real vSphere cluster.
 */

const FNV_OFFSET_BASIS = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
const utf8 = new TextEncoder();

/** 32-bit FNV-1a over the UTF-8 bytes of `text`, as an unsigned integer. */
export function fnv1a32(text: string, basis: number = FNV_OFFSET_BASIS): number {
  let hash = basis >>> 0;
  for (const byte of utf8.encode(text)) {
    hash ^= byte;
    hash = Math.imul(hash, FNV_PRIME) >>> 0;
  }
  return hash;
}

/** Murmur3's 32-bit finaliser: spreads FNV's weak last-byte avalanche over every bit. */
function mix32(value: number): number {
  let h = value >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

function formatMacBytes(bytes: readonly number[]): string {
  return bytes.map((b) => (b & 0xff).toString(16).padStart(2, '0')).join(':');
}

/**
 * The MAC of port `port` on node `node`: `02:` plus 40 bits of hash of `node:port`. `attempt`
 * perturbs the hash when an earlier port already took the address (vanishingly rare).
 */
export function derivePortMac(node: string, port: string, attempt = 0): string {
  const key = attempt === 0 ? `${node}:${port}` : `${node}:${port}#${attempt}`;
  const low = mix32(fnv1a32(key));
  const high = mix32(fnv1a32(key, low ^ FNV_OFFSET_BASIS));
  return formatMacBytes([0x02, high, low >>> 24, low >>> 16, low >>> 8, low]);
}

/**
 * The MAC of VNIC number `index` of VM `vm` when the file gives none: in VMware's
 * vCenter-generated block `00:50:56:80:00:00`–`00:50:56:bf:ff:ff`. `attempt` as for ports.
 */
export function deriveVnicMac(vm: string, index: number, attempt = 0): string {
  const key = attempt === 0 ? `${vm}:${index}` : `${vm}:${index}#${attempt}`;
  const bits = 0x800000 | (mix32(fnv1a32(key)) & 0x3fffff);
  return formatMacBytes([0x00, 0x50, 0x56, bits >>> 16, bits >>> 8, bits]);
}

/** Parses `00:50:56:aa:bb:cc` (or with `-`) into canonical lower-case colon form; null if malformed. */
export function normalizeMac(text: string): string | null {
  const match = /^([0-9a-f]{2})([:-])([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})$/i.exec(text);
  if (!match) return null;
  return [match[1], match[3], match[4], match[5], match[6], match[7]].join(':').toLowerCase();
}

/** True for a group (multicast or broadcast) address: the low bit of the first octet is set. */
export function isGroupMac(mac: string): boolean {
  return (Number.parseInt(mac.slice(0, 2), 16) & 1) === 1;
}
