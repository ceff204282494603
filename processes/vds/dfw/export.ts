/**
 * The filter state that moves with a VM on vMotion: its vNIC's identity, the rules applied to
 * it and its tracked connections with their remaining idle time. Plain data (msgpack-able), so
 * it can cross the wire between two hosts' DPUs, and versioned so a receiver that does not know
 * the format refuses it instead of guessing (the vNIC then stays disconnected: fail closed).
 */
import type { VTime } from '../../../shared/events.js';
import { statesOf, trackKindOf } from './conntrack.js';
import type { ConnectionEntry, TcpCloseTracking } from './conntrack.js';
import { DfwImportError } from './errors.js';
import { protocolName } from './packet.js';
import type { PacketProtocol } from './packet.js';
import type { DfwPortRange, DfwRule, VnicIdentity } from './rule.js';

/**
 * The export format version a firewall writes and reads unless its DPU is set to another one
 * (topology `dfwExportVersion`). The fields are the same whatever the number: a firewall reads
 * exactly its own version and refuses every other, which is what a test of the fail-closed import
 * needs (two DPUs set to different versions).
 */
export const DFW_EXPORT_VERSION = 1;

/** One tracked connection in an export. */
export interface DfwExportedConnection extends Readonly<Pick<ConnectionEntry, 'tuple' | 'direction' | 'ruleId' | 'state' | 'close'>> {
  /** Idle time left when exported, in ns: the importer counts it from its own clock. */
  readonly remainingNs: VTime;
  /** How long the connection had existed when exported, in ns. */
  readonly ageNs: VTime;
  readonly orig: { readonly packets: number; readonly bytes: number };
  readonly reply: { readonly packets: number; readonly bytes: number };
}

/** A vNIC's filter state, as `exportVnic` writes it and `importVnic` reads it. */
export interface DfwExport {
  /** The writer's export version (`DFW_EXPORT_VERSION` unless its DPU was set to another). */
  readonly version: number;
  readonly vnic: string;
  readonly identity: VnicIdentity;
  /** Every rule applied to the vNIC, full rule objects, in evaluation order (the default rule excluded). */
  readonly rules: readonly DfwRule[];
  readonly connections: readonly DfwExportedConnection[];
}

type Bag = Readonly<Record<string, unknown>>;

function malformed(what: string): DfwImportError {
  return new DfwImportError('malformed', `Firewall export is malformed: ${what}`);
}

function isBag(value: unknown): value is Bag {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}

function bag(value: unknown, what: string): Bag {
  if (!isBag(value)) throw malformed(`${what} is not a map`);
  return value;
}

function text(value: unknown, what: string): string {
  if (typeof value !== 'string') throw malformed(`${what} is not a string`);
  return value;
}

function textOrNull(value: unknown, what: string): string | null {
  return value === null ? null : text(value, what);
}

function count(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw malformed(`${what} is not a non-negative integer`);
  return value;
}

function port(value: unknown, what: string): number {
  const n = count(value, what);
  if (n > 0xffff) throw malformed(`${what} is not a port`);
  return n;
}

function list(value: unknown, what: string): readonly unknown[] {
  if (!Array.isArray(value)) throw malformed(`${what} is not a list`);
  return value;
}

function oneOf<T extends string>(value: unknown, allowed: readonly T[], what: string): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) throw malformed(`${what} is not one of ${allowed.join(', ')}`);
  return value as T;
}

function seqOrNull(value: unknown, what: string): number | null {
  if (value === null) return null;
  const n = count(value, what);
  if (n > 0xffffffff) throw malformed(`${what} is not a 32-bit sequence number`);
  return n;
}

function protocolOf(value: unknown, what: string): PacketProtocol {
  const name = text(value, what);
  if (name === 'tcp' || name === 'udp' || name === 'icmp' || name === 'icmpv6') return name;
  const match = /^ip-(0|[1-9][0-9]{0,2})$/.exec(name);
  const number = match ? Number(match[1]) : 256;
  // ip-6 is spelled tcp, ip-17 udp: only numbers without a name of their own in some family are valid.
  if (number <= 255 && (protocolName(number, 4) === name || protocolName(number, 6) === name)) return name as PacketProtocol;
  throw malformed(`${what} ${JSON.stringify(name)} is not a protocol`);
}

function counters(value: unknown, what: string): { packets: number; bytes: number } {
  const b = bag(value, what);
  return { packets: count(b.packets, `${what}.packets`), bytes: count(b.bytes, `${what}.bytes`) };
}

function ranges(value: unknown, what: string): DfwPortRange[] {
  return list(value, what).map((item, i) => {
    const b = bag(item, `${what}[${i}]`);
    return { from: port(b.from, `${what}[${i}].from`), to: port(b.to, `${what}[${i}].to`) };
  });
}

function identityOf(value: unknown): VnicIdentity {
  const b = bag(value, 'identity');
  return {
    vnic: text(b.vnic, 'identity.vnic'),
    vm: text(b.vm, 'identity.vm'),
    mac: text(b.mac, 'identity.mac'),
    ipv4: textOrNull(b.ipv4, 'identity.ipv4'),
    ipv6: textOrNull(b.ipv6, 'identity.ipv6'),
  };
}

function ruleOf(value: unknown, i: number): DfwRule {
  const at = `rules[${i}]`;
  const b = bag(value, at);
  const service = bag(b.service, `${at}.service`);
  const priority = b.priority;
  if (typeof priority !== 'number' || !Number.isFinite(priority)) throw malformed(`${at}.priority is not a number`);
  const icmpType = service.icmpType;
  if (icmpType !== null && (typeof icmpType !== 'number' || !Number.isInteger(icmpType))) throw malformed(`${at}.service.icmpType is not an integer or null`);
  const strings = (field: string): string[] => list(b[field], `${at}.${field}`).map((item, j) => text(item, `${at}.${field}[${j}]`));
  return {
    id: text(b.id, `${at}.id`),
    priority,
    appliedTo: strings('appliedTo'),
    sources: strings('sources'),
    destinations: strings('destinations'),
    service: {
      protocol: oneOf(service.protocol, ['tcp', 'udp', 'icmp', 'icmpv6', 'any'], `${at}.service.protocol`),
      destinationPorts: ranges(service.destinationPorts, `${at}.service.destinationPorts`),
      sourcePorts: ranges(service.sourcePorts, `${at}.service.sourcePorts`),
      icmpType,
    },
    direction: oneOf(b.direction, ['in', 'out', 'in-out'], `${at}.direction`),
    action: oneOf(b.action, ['allow', 'drop', 'reject'], `${at}.action`),
  };
}

function connectionOf(value: unknown, i: number): DfwExportedConnection {
  const at = `connections[${i}]`;
  const b = bag(value, at);
  const t = bag(b.tuple, `${at}.tuple`);
  const protocol = protocolOf(t.protocol, `${at}.tuple.protocol`);
  const track = trackKindOf(protocol);
  let close: TcpCloseTracking | null = null;
  if (track === 'tcp') {
    const c = bag(b.close, `${at}.close`);
    if (typeof c.origFinAcked !== 'boolean' || typeof c.replyFinAcked !== 'boolean') throw malformed(`${at}.close has no FIN acknowledgement flags`);
    close = {
      origFin: seqOrNull(c.origFin, `${at}.close.origFin`),
      replyFin: seqOrNull(c.replyFin, `${at}.close.replyFin`),
      origFinAcked: c.origFinAcked,
      replyFinAcked: c.replyFinAcked,
    };
  }
  return {
    tuple: {
      protocol,
      src: text(t.src, `${at}.tuple.src`),
      srcPort: port(t.srcPort, `${at}.tuple.srcPort`),
      dst: text(t.dst, `${at}.tuple.dst`),
      dstPort: port(t.dstPort, `${at}.tuple.dstPort`),
    },
    direction: oneOf(b.direction, ['in', 'out'], `${at}.direction`),
    ruleId: text(b.ruleId, `${at}.ruleId`),
    state: oneOf(b.state, statesOf(track), `${at}.state`),
    remainingNs: count(b.remainingNs, `${at}.remainingNs`),
    ageNs: count(b.ageNs, `${at}.ageNs`),
    orig: counters(b.orig, `${at}.orig`),
    reply: counters(b.reply, `${at}.reply`),
    close,
  };
}

/**
 * Checks that a received blob is an export of `version` (the reader's own) and returns it typed.
 * The version is checked first: a blob of another version throws `unknown-version` whatever
 * else it holds; anything else wrong throws `malformed`.
 */
export function parseDfwExport(blob: unknown, version: number = DFW_EXPORT_VERSION): DfwExport {
  if (!isBag(blob)) throw malformed('it is not a map');
  if (typeof blob.version !== 'number') throw malformed('it has no version number');
  if (blob.version !== version) {
    throw new DfwImportError('unknown-version', `Firewall export version ${blob.version} is not supported; this firewall reads version ${version}`);
  }
  const vnic = text(blob.vnic, 'vnic');
  const identity = identityOf(blob.identity);
  if (identity.vnic !== vnic) throw malformed(`identity.vnic ${identity.vnic} is not vnic ${vnic}`);
  return {
    version,
    vnic,
    identity,
    rules: list(blob.rules, 'rules').map(ruleOf),
    connections: list(blob.connections, 'connections').map(connectionOf),
  };
}
