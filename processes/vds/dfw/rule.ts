/**
 * Firewall rules as the management plane writes them, and their compiled form: the order rules
 * are evaluated in, which vNICs a rule is applied to, and whether it matches a packet.
 */
import { AddressError } from '../../../shared/net/errors.js';
import { cidrContains, parseCidr } from '../../../shared/net/ip.js';
import type { Cidr, IpAddress } from '../../../shared/net/ip.js';
import { isAddressTerm } from '../../../shared/actions/dfw-rule.js';
import { DfwRuleError } from './errors.js';
import type { IpPacket } from './packet.js';

/** What a rule does with a packet it matches. */
export type DfwAction = 'allow' | 'drop' | 'reject';
/** Which way a rule looks, from the VM's point of view: `out` = sent by the VM, `in` = towards it. */
export type DfwRuleDirection = 'in' | 'out' | 'in-out';
/** The direction of one packet through a vNIC's filter, from the VM's point of view. */
export type DfwPacketDirection = 'in' | 'out';
/** The protocol a service names; `any` matches every IP protocol. */
export type DfwProtocol = 'tcp' | 'udp' | 'icmp' | 'icmpv6' | 'any';

/** An inclusive port range; a single port has `from === to`. */
export interface DfwPortRange {
  readonly from: number;
  readonly to: number;
}

/** The service a rule matches: a protocol and, for TCP/UDP, ports; for ICMP, a type. */
export interface DfwService {
  readonly protocol: DfwProtocol;
  /** TCP/UDP destination ports; empty means any. */
  readonly destinationPorts: readonly DfwPortRange[];
  /** TCP/UDP source ports; empty means any. */
  readonly sourcePorts: readonly DfwPortRange[];
  /** ICMP or ICMPv6 type; null means any. */
  readonly icmpType: number | null;
}

/**
 * One distributed firewall rule (NSX semantics). Plain data: rules travel in exports and events.
 *
 * `appliedTo`, `sources` and `destinations` that are empty or contain `any` match everything.
 * Sources and destinations also take VM ids, vNIC ids, addresses and CIDR prefixes.
 */
export interface DfwRule {
  readonly id: string;
  /** Lower numbers are evaluated first; ties are broken by id. */
  readonly priority: number;
  /** VM ids or vNIC ids whose filters carry the rule. */
  readonly appliedTo: readonly string[];
  readonly sources: readonly string[];
  readonly destinations: readonly string[];
  readonly service: DfwService;
  readonly direction: DfwRuleDirection;
  readonly action: DfwAction;
}

/** The id of the default rule every filter ends with. */
export const DFW_DEFAULT_RULE_ID = 'default';

/** The service that matches every IP packet. */
export const ANY_SERVICE: DfwService = { protocol: 'any', destinationPorts: [], sourcePorts: [], icmpType: null };

/** The identity of a vNIC behind a filter: what `appliedTo` and VM-id matching refer to. */
export interface VnicIdentity {
  readonly vnic: string;
  readonly vm: string;
  readonly mac: string;
  /** The vNIC's IPv4 address; a `/len` suffix (interface notation) is ignored. */
  readonly ipv4: string | null;
  readonly ipv6: string | null;
}

type AddressTerm = { readonly kind: 'cidr'; readonly cidr: Cidr } | { readonly kind: 'name'; readonly name: string };

/** A rule checked and prepared for matching. */
export interface CompiledRule {
  readonly rule: DfwRule;
  /** Applied to every vNIC. */
  readonly everywhere: boolean;
  readonly appliedTo: ReadonlySet<string>;
  /** Null means any. */
  readonly sources: readonly AddressTerm[] | null;
  readonly destinations: readonly AddressTerm[] | null;
}

/** Looks up the addresses of a VM or vNIC id (canonical text, no prefix length). */
export type AddressResolver = (name: string) => readonly IpAddress[];

/** Evaluation order: priority, then id. */
export function compareRules(a: DfwRule, b: DfwRule): number {
  if (a.priority !== b.priority) return a.priority - b.priority;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

function isAny(list: readonly string[]): boolean {
  return list.length === 0 || list.includes('any');
}

function compileTerms(rule: DfwRule, field: 'sources' | 'destinations'): AddressTerm[] | null {
  const list = rule[field];
  if (isAny(list)) return null;
  return list.map((term): AddressTerm => {
    if (!isAddressTerm(term)) return { kind: 'name', name: term };
    try {
      return { kind: 'cidr', cidr: parseCidr(term) };
    } catch (error) {
      if (!(error instanceof AddressError)) throw error;
      throw new DfwRuleError('bad-address', rule.id, `Rule ${rule.id} ${field} has ${JSON.stringify(term)}, which is neither an address, a CIDR prefix nor an id`);
    }
  });
}

function checkPorts(rule: DfwRule, field: 'destinationPorts' | 'sourcePorts'): void {
  for (const range of rule.service[field]) {
    const ok = Number.isInteger(range.from) && Number.isInteger(range.to) && range.from >= 0 && range.to <= 0xffff && range.from <= range.to;
    if (!ok) throw new DfwRuleError('bad-port', rule.id, `Rule ${rule.id} has ${field} ${range.from}-${range.to}, not a range within 0-65535`);
  }
}

/** Checks a rule and prepares it for matching; throws DfwRuleError for a rule that cannot be installed. */
export function compileRule(rule: DfwRule): CompiledRule {
  if (rule.id === DFW_DEFAULT_RULE_ID) {
    throw new DfwRuleError('reserved-id', rule.id, `Rule id ${DFW_DEFAULT_RULE_ID} is reserved for the default rule`);
  }
  if (typeof rule.id !== 'string' || rule.id === '') {
    throw new DfwRuleError('bad-id', String(rule.id), `A rule needs a non-empty id, got ${JSON.stringify(rule.id)}`);
  }
  if (!Number.isFinite(rule.priority)) {
    throw new DfwRuleError('bad-priority', rule.id, `Rule ${rule.id} has priority ${rule.priority}, not a finite number`);
  }
  const { service } = rule;
  const ported = service.protocol === 'tcp' || service.protocol === 'udp';
  if (!ported && (service.destinationPorts.length > 0 || service.sourcePorts.length > 0)) {
    throw new DfwRuleError('bad-service', rule.id, `Rule ${rule.id} names ports for protocol ${service.protocol}; only tcp and udp have ports`);
  }
  checkPorts(rule, 'destinationPorts');
  checkPorts(rule, 'sourcePorts');
  if (service.icmpType !== null) {
    if (service.protocol !== 'icmp' && service.protocol !== 'icmpv6') {
      throw new DfwRuleError('bad-service', rule.id, `Rule ${rule.id} names an ICMP type for protocol ${service.protocol}`);
    }
    if (!Number.isInteger(service.icmpType) || service.icmpType < 0 || service.icmpType > 255) {
      throw new DfwRuleError('bad-service', rule.id, `Rule ${rule.id} has ICMP type ${service.icmpType}, not 0 to 255`);
    }
  }
  return {
    rule,
    everywhere: isAny(rule.appliedTo),
    appliedTo: new Set(rule.appliedTo),
    sources: compileTerms(rule, 'sources'),
    destinations: compileTerms(rule, 'destinations'),
  };
}

/** The default rule ending every filter, with the configured action. */
export function defaultRule(action: DfwAction): DfwRule {
  return {
    id: DFW_DEFAULT_RULE_ID,
    priority: Number.MAX_SAFE_INTEGER,
    appliedTo: ['any'],
    sources: ['any'],
    destinations: ['any'],
    service: ANY_SERVICE,
    direction: 'in-out',
    action,
  };
}

/** True when the rule is carried by this vNIC's filter (applied to the vNIC or to its VM). */
export function ruleAppliesTo(rule: CompiledRule, identity: VnicIdentity): boolean {
  return rule.everywhere || rule.appliedTo.has(identity.vnic) || rule.appliedTo.has(identity.vm);
}

function inRanges(port: number | null, ranges: readonly DfwPortRange[]): boolean {
  if (ranges.length === 0) return true;
  if (port === null) return false;
  return ranges.some((range) => port >= range.from && port <= range.to);
}

function serviceMatches(service: DfwService, packet: IpPacket): boolean {
  if (service.protocol === 'any') return true;
  if (service.protocol !== packet.protocol) return false;
  if (service.protocol === 'tcp' || service.protocol === 'udp') {
    return inRanges(packet.dstPort, service.destinationPorts) && inRanges(packet.srcPort, service.sourcePorts);
  }
  return service.icmpType === null || packet.icmp?.type === service.icmpType;
}

function addressMatches(terms: readonly AddressTerm[] | null, address: IpAddress, resolve: AddressResolver): boolean {
  if (terms === null) return true;
  for (const term of terms) {
    if (term.kind === 'cidr') {
      if (cidrContains(term.cidr, address)) return true;
    } else if (resolve(term.name).includes(address)) {
      return true;
    }
  }
  return false;
}

/** True when the rule matches a packet crossing the filter in `direction`. */
export function ruleMatches(rule: CompiledRule, packet: IpPacket, direction: DfwPacketDirection, resolve: AddressResolver): boolean {
  if (rule.rule.direction !== 'in-out' && rule.rule.direction !== direction) return false;
  if (!serviceMatches(rule.rule.service, packet)) return false;
  return addressMatches(rule.sources, packet.src, resolve) && addressMatches(rule.destinations, packet.dst, resolve);
}
