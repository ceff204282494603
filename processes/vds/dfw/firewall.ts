/**
 * The distributed firewall: one stateful filter per vNIC, evaluated where the vNIC is served
 * (on its DPU, or on the host's x86 cores when the host has no DPU). A pure module: the owner
 * calls `filter` for every frame crossing a vNIC and acts on the verdict; time and events come
 * from the NodeContext it passes in.
 */
import type { VTime } from '../../../shared/events.js';
import type { FrameErrorCode } from '../../../shared/net/errors.js';
import { normalizeIp } from '../../../shared/net/ip.js';
import type { IpAddress } from '../../../shared/net/ip.js';
import type { NodeContext } from '../../runtime/types.js';
import {
  connectionView,
  ConnectionTable,
  DEFAULT_DFW_TIMEOUTS,
  nextIcmpState,
  nextTcpState,
  nextUdpState,
  trackedTuple,
} from './conntrack.js';
import type {
  ConnectionEntry,
  ConnectionSide,
  ConnectionState,
  ConnectionTuple,
  ConnectionView,
  DfwTimeouts,
  IcmpState,
  TcpState,
  UdpState,
} from './conntrack.js';
import { DfwImportError, DfwRuleError, DfwVnicError } from './errors.js';
import { DFW_EXPORT_VERSION, parseDfwExport } from './export.js';
import type { DfwExport, DfwExportedConnection } from './export.js';
import { parseFrame } from './packet.js';
import type { IpPacket } from './packet.js';
import { buildRejectReply } from './reject.js';
import { compareRules, compileRule, DFW_DEFAULT_RULE_ID, defaultRule, ruleAppliesTo, ruleMatches } from './rule.js';
import type { CompiledRule, DfwAction, DfwPacketDirection, DfwRule, VnicIdentity } from './rule.js';


/** The name of the timer that sweeps out idle connections. */
const DFW_SWEEP_TIMER = 'dfw.sweep';
/** How a firewall is set up. */
export interface DfwOptions {
  /** The node the firewall runs on, for inspectors. */
  readonly node: string;
  /** The action of the default rule that ends every filter; default `allow`. */
  readonly defaultAction?: DfwAction;
  /** Idle timeouts in seconds; unspecified ones keep NSX's defaults. */
  readonly timeouts?: Partial<DfwTimeouts>;
  /**
   * The addresses of a VM id or vNIC id named in a rule's sources or destinations. A `/len`
   * suffix is ignored (interface notation names one address, not a subnet). Attached vNICs are
   * resolved from their identity as well.
   */
  readonly resolve?: (name: string) => readonly string[];
  /**
   * Track a TCP connection from a segment other than a SYN when a rule allows it (NSX without
   * "TCP strict"); default false: only a SYN opens an entry, other segments are judged by the
   * rules one by one.
   */
  readonly tcpLoosePickup?: boolean;
  /** Treat frames with a bad IP, TCP, UDP or ICMP checksum as malformed; default true. */
  readonly verifyChecksums?: boolean;
  /**
   * The export version this firewall writes and the only one it imports; default
   * `DFW_EXPORT_VERSION` (the DPU's topology setting `dfwExportVersion`).
   */
  readonly exportVersion?: number;
}

/** What the filter decided about one frame. */
export interface DfwVerdict {
  readonly action: DfwAction;
  /** The rule that decided (for an established connection, the rule that allowed it); null for frames that are not IP or are malformed. */
  readonly ruleId: string | null;
  /** Judged by an existing connection entry, without a rule lookup. */
  readonly established: boolean;
  /** For `reject`: the frame to deliver back to the sender (a RST or an ICMP unreachable), when one is due. */
  readonly reply: Uint8Array | null;
  /** Set when the frame could not be decoded (it is dropped). */
  readonly malformed?: FrameErrorCode;
}

/** Packets through one vNIC's filter, by outcome. */
export interface VnicCounters {
  allowed: number;
  dropped: number;
  rejected: number;
  /** Not IP (ARP, LLDP, ...) or IPv6 neighbour discovery: let through untracked. */
  bypassed: number;
  /** Could not be decoded: dropped. */
  malformed: number;
}

/** A rule's counters. */
export interface RuleCounterView {
  readonly rule: string;
  /** The rule's action, or null for a rule that is no longer installed. */
  readonly action: DfwAction | null;
  readonly installed: boolean;
  /** Rule evaluations that ended on this rule (new connections, untracked packets). */
  readonly hits: number;
  /** Packets judged by the rule or by connections it allowed. */
  readonly packets: number;
  readonly bytes: number;
}

/** A vNIC's filter as inspectors see it. */
export interface VnicFilterView {
  readonly identity: VnicIdentity;
  readonly counters: VnicCounters;
  readonly connections: number;
  /** Rules that arrived with an import and are not (yet) in the management plane's set. */
  readonly importedRules: readonly string[];
}

/** What an import installed. */
export interface DfwImportSummary {
  readonly vnic: string;
  /** Rules in the export. */
  readonly rules: number;
  /** Of those, rules this firewall did not have, now applied to this vNIC alone until the next `setRules`. */
  readonly importedRules: number;
  /** Connections installed (entries whose remaining time had run out are left out). */
  readonly connections: number;
}

interface RuleCounter {
  hits: number;
  packets: number;
  bytes: number;
}

interface VnicFilter {
  identity: VnicIdentity;
  readonly counters: VnicCounters;
  /** Rules from an import that the global set lacks, applied to this vNIC only. */
  imported: CompiledRule[];
  /** The vNIC's rules in evaluation order, default rule last; rebuilt after any change. */
  chain: CompiledRule[] | null;
}

const UNTRACKED_ALLOW: DfwVerdict = { action: 'allow', ruleId: null, established: false, reply: null };

function stripPrefix(address: string): string {
  const slash = address.indexOf('/');
  return slash < 0 ? address : address.slice(0, slash);
}

function canonicalAddress(address: string | null): IpAddress | null {
  if (address === null) return null;
  try {
    return normalizeIp(stripPrefix(address));
  } catch {
    return null;
  }
}

/** A copy of a rule with exactly the rule fields, for exports and inspectors. */
function plainRule(rule: DfwRule): DfwRule {
  return {
    id: rule.id,
    priority: rule.priority,
    appliedTo: [...rule.appliedTo],
    sources: [...rule.sources],
    destinations: [...rule.destinations],
    service: {
      protocol: rule.service.protocol,
      destinationPorts: rule.service.destinationPorts.map((r) => ({ from: r.from, to: r.to })),
      sourcePorts: rule.service.sourcePorts.map((r) => ({ from: r.from, to: r.to })),
      icmpType: rule.service.icmpType,
    },
    direction: rule.direction,
    action: rule.action,
  };
}

function isPureSyn(packet: IpPacket): boolean {
  const flags = packet.tcp?.flags;
  return flags !== undefined && flags.syn && !flags.ack && !flags.rst && !flags.fin;
}

/**
 * The distributed firewall of one node: the rule set the management plane pushed, one filter per
 * attached vNIC, and the connection table.
 */
export class DistributedFirewall {
  private readonly node: string;
  private readonly defaultCompiled: CompiledRule;
  private readonly timeouts: DfwTimeouts;
  private readonly resolveName: (name: string) => readonly string[];
  private readonly loosePickup: boolean;
  private readonly verifyChecksums: boolean;
  /** The export version written by `exportVnic` and the only one `importVnic` reads. */
  readonly exportVersion: number;
  private readonly table: ConnectionTable;
  private readonly vnics = new Map<string, VnicFilter>();
  private readonly counters = new Map<string, RuleCounter>();
  /** When the sweep timer is set to fire; null when none is set. */
  private sweepArmed: VTime | null = null;
  /** The management plane's rules, in evaluation order. */
  private rules: CompiledRule[] = [];
  private ruleGeneration = 0;

  constructor(options: DfwOptions) {
    this.node = options.node;
    this.defaultCompiled = {
      rule: defaultRule(options.defaultAction ?? 'allow'),
      everywhere: true,
      appliedTo: new Set(),
      sources: null,
      destinations: null,
    };
    this.timeouts = { ...DEFAULT_DFW_TIMEOUTS, ...options.timeouts };
    this.resolveName = options.resolve ?? (() => []);
    this.loosePickup = options.tcpLoosePickup ?? false;
    this.verifyChecksums = options.verifyChecksums ?? true;
    this.exportVersion = options.exportVersion ?? DFW_EXPORT_VERSION;
    this.table = new ConnectionTable(this.timeouts);
  }

  /** The generation of the rule set in force (the last `setRules` generation, plus one per add or remove since). */
  get generation(): number {
    return this.ruleGeneration;
  }

  /** Creates the filter of a vNIC, or updates its identity if it exists (its connections stay). */
  attach(identity: VnicIdentity): void {
    const normal: VnicIdentity = {
      vnic: identity.vnic,
      vm: identity.vm,
      mac: identity.mac,
      ipv4: canonicalAddress(identity.ipv4),
      ipv6: canonicalAddress(identity.ipv6),
    };
    const existing = this.vnics.get(identity.vnic);
    if (existing) {
      existing.identity = normal;
      existing.chain = null;
      return;
    }
    this.vnics.set(identity.vnic, {
      identity: normal,
      counters: { allowed: 0, dropped: 0, rejected: 0, bypassed: 0, malformed: 0 },
      imported: [],
      chain: null,
    });
  }

  /** Removes a vNIC's filter and its connections (after its VM moved away or was powered off). */
  detach(vnic: string): void {
    this.vnics.delete(vnic);
    this.table.removeVnic(vnic);
  }

  /** True when the vNIC has a filter here. */
  attached(vnic: string): boolean {
    return this.vnics.has(vnic);
  }

  /**
   * Replaces the whole rule set, as the management plane pushes it. Nothing changes if any rule
   * is refused (DfwRuleError). Rules that came with imports are dropped: this set is authoritative.
   * Existing connections are not re-evaluated: they keep flowing until they close or time out.
   */
  setRules(ctx: NodeContext, rules: readonly DfwRule[], generation: number): void {
    const compiled = rules.map(compileRule);
    const seen = new Set<string>();
    for (const rule of rules) {
      if (seen.has(rule.id)) throw new DfwRuleError('duplicate-id', rule.id, `Rule id ${rule.id} appears more than once`);
      seen.add(rule.id);
    }
    this.rules = compiled.sort((a, b) => compareRules(a.rule, b.rule));
    for (const filter of this.vnics.values()) filter.imported = [];
    this.ruleGeneration = generation;
    this.invalidate();
    ctx.emit('dfw.rules', { generation, count: this.rules.length, change: 'set', rule: null });
  }

  /** Adds one rule to the set in force. */
  addRule(ctx: NodeContext, rule: DfwRule): void {
    const compiled = compileRule(rule);
    if (this.rules.some((r) => r.rule.id === rule.id)) throw new DfwRuleError('duplicate-id', rule.id, `Rule ${rule.id} is already installed`);
    this.rules = [...this.rules, compiled].sort((a, b) => compareRules(a.rule, b.rule));
    this.dropImported(rule.id);
    this.changed(ctx, 'add', rule.id);
  }

  /**
   * Removes one rule (also from any vNIC that had it from an import). A rule this firewall does not
   * hold (its node was down when the rule was pushed and has not caught up yet) leaves everything
   * as it is: the removal's intent already holds here, so it is recorded (`dfw.rule.absent`) and
   * the generation stays, never an error in the node's core.
   */
  removeRule(ctx: NodeContext, id: string): void {
    const installed = this.rules.some((r) => r.rule.id === id);
    const imported = [...this.vnics.values()].some((f) => f.imported.some((r) => r.rule.id === id));
    if (!installed && !imported) {
      ctx.emit('dfw.rule.absent', { rule: id, generation: this.ruleGeneration, count: this.rules.length });
      return;
    }
    this.rules = this.rules.filter((r) => r.rule.id !== id);
    this.dropImported(id);
    this.changed(ctx, 'remove', id);
  }

  /** The rule set in force, in evaluation order (the default rule last). */
  ruleSet(): DfwRule[] {
    return [...this.rules.map((r) => plainRule(r.rule)), plainRule(this.defaultCompiled.rule)];
  }

  /**
   * Judges one frame crossing a vNIC's filter. `direction` is from the VM's point of view:
   * `out` = the VM sent it, `in` = it is on its way to the VM.
   */
  filter(ctx: NodeContext, vnic: string, direction: DfwPacketDirection, frame: Uint8Array): DfwVerdict {
    const filter = this.filterOf(vnic);
    const parsed = parseFrame(frame, this.verifyChecksums);
    if (parsed.kind === 'malformed') {
      filter.counters.malformed++;
      return { action: 'drop', ruleId: null, established: false, reply: null, malformed: parsed.code };
    }
    if (parsed.kind === 'not-ip' || parsed.packet.icmp?.ndp) {
      filter.counters.bypassed++;
      return UNTRACKED_ALLOW;
    }
    const packet = parsed.packet;
    const now = ctx.now();
    const bytes = packet.ipBytes.length;

    const tuple = trackedTuple(packet);
    if (tuple) {
      const found = this.liveEntry(ctx, vnic, tuple, now);
      if (found && this.reopens(found.entry, packet)) {
        this.expire(ctx, found.entry, 'reused');
      } else if (found) {
        return this.judgeByEntry(ctx, filter, found.entry, found.side, packet, bytes, now);
      }
    }
    const quoted = packet.icmp?.error?.quoted;
    if (quoted && quoted.srcPort !== null && quoted.dstPort !== null) {
      const related = this.liveEntry(ctx, vnic, { protocol: quoted.protocol, src: quoted.src, srcPort: quoted.srcPort, dst: quoted.dst, dstPort: quoted.dstPort }, now);
      if (related) return this.judgeRelated(filter, related.entry, related.side === 'orig' ? 'reply' : 'orig', bytes, now);
    }
    return this.evaluate(ctx, filter, direction, packet, tuple, bytes, now);
  }

  /** Removes every connection whose idle timeout has run out, emitting `dfw.conn.expired` for each. Returns how many. */
  sweep(ctx: NodeContext): number {
    const expired = this.table.expired(ctx.now());
    for (const entry of expired) this.expire(ctx, entry, 'timeout');
    return expired.length;
  }

  /** When the next connection times out, for the owner's sweep timer; null with no connections. */
  nextExpiry(): VTime | null {
    return this.table.nextExpiry();
  }

  /**
   * Keeps one timer ({@link DFW_SWEEP_TIMER}) at the next connection expiry, so idle connections
   * go when their timeout runs out. The owner calls it after anything that adds or refreshes
   * connections (a packet judged, an import) and hands its timers to {@link onTimer}.
   */
  armSweep(ctx: NodeContext): void {
    const next = this.nextExpiry();
    if (next === null || (this.sweepArmed !== null && this.sweepArmed <= next)) return;
    this.sweepArmed = next;
    ctx.setTimer(Math.max(0, next - ctx.now()), DFW_SWEEP_TIMER);
  }

  /** Handles the firewall's sweep timer (expires what ran out, sets the timer again); false for any other timer. */
  onTimer(ctx: NodeContext, name: string): boolean {
    if (name !== DFW_SWEEP_TIMER) return false;
    this.sweepArmed = null;
    this.sweep(ctx);
    this.armSweep(ctx);
    return true;
  }

  /**
   * The state that moves with the vNIC's VM: its identity, the rules applied to it and its live
   * connections with their remaining idle time. Plain data.
   */
  exportVnic(vnic: string, now: VTime): DfwExport {
    const filter = this.filterOf(vnic);
    const rules = this.chainOf(filter)
      .filter((r) => r !== this.defaultCompiled)
      .map((r) => plainRule(r.rule));
    const connections: DfwExportedConnection[] = this.table
      .list(vnic)
      .filter((entry) => entry.expiresAt > now)
      .map((entry) => ({
        tuple: { ...entry.tuple },
        direction: entry.direction,
        ruleId: entry.ruleId,
        state: entry.state,
        remainingNs: entry.expiresAt - now,
        ageNs: Math.max(0, now - entry.createdAt),
        orig: { ...entry.orig },
        reply: { ...entry.reply },
        close: entry.close ? { ...entry.close } : null,
      }));
    return { version: this.exportVersion, vnic, identity: { ...filter.identity }, rules, connections };
  }

  /**
   * Installs a vNIC's exported state: attaches the vNIC, applies the export's rules this firewall
   * lacks to that vNIC alone (the management plane's own rules win on id), and replaces the
   * vNIC's connections with the exported ones, each keeping its state, rule and counters and the
   * idle time it had left, counted from `now`. Throws DfwImportError (nothing applied) for an
   * export of a version other than `exportVersion` (`unknown-version`) or a damaged one (`malformed`).
   */
  importVnic(blob: unknown, now: VTime): DfwImportSummary {
    const data = parseDfwExport(blob, this.exportVersion);
    let imported: CompiledRule[];
    try {
      imported = data.rules.filter((rule) => !this.rules.some((r) => r.rule.id === rule.id)).map(compileRule);
    } catch (error) {
      if (error instanceof DfwRuleError) throw new DfwImportError('malformed', `Firewall export is malformed: ${error.message}`);
      throw error;
    }
    this.attach(data.identity);
    const filter = this.filterOf(data.vnic);
    filter.imported = imported;
    filter.chain = null;
    this.table.removeVnic(data.vnic);
    let connections = 0;
    for (const c of data.connections) {
      if (c.remainingNs <= 0) continue;
      const entry = this.table.create(data.vnic, c.tuple, c.direction, c.ruleId, now - c.ageNs);
      entry.state = c.state;
      entry.expiresAt = now + c.remainingNs;
      Object.assign(entry.orig, c.orig);
      Object.assign(entry.reply, c.reply);
      if (entry.close && c.close) Object.assign(entry.close, c.close);
      connections++;
    }
    return { vnic: data.vnic, rules: data.rules.length, importedRules: imported.length, connections };
  }

  /** Connections of one vNIC or of all, sorted by vNIC then key. */
  connections(vnic?: string): ConnectionView[] {
    return this.table.list(vnic).map(connectionView);
  }

  /** Counters of every installed rule in evaluation order (the default rule last), then of removed rules that had counts. */
  ruleCounters(): RuleCounterView[] {
    const views: RuleCounterView[] = [];
    const listed = new Set<string>();
    const add = (id: string, action: DfwAction | null): void => {
      if (listed.has(id)) return;
      listed.add(id);
      const c = this.counters.get(id) ?? { hits: 0, packets: 0, bytes: 0 };
      views.push({ rule: id, action, installed: action !== null, hits: c.hits, packets: c.packets, bytes: c.bytes });
    };
    for (const r of this.rules) add(r.rule.id, r.rule.action);
    const imported = [...this.vnics.keys()].sort().flatMap((id) => this.vnics.get(id)!.imported);
    for (const r of [...imported].sort((a, b) => compareRules(a.rule, b.rule))) add(r.rule.id, r.rule.action);
    add(DFW_DEFAULT_RULE_ID, this.defaultCompiled.rule.action);
    for (const id of [...this.counters.keys()].sort()) add(id, null);
    return views;
  }

  /** Per-vNIC counters (a copy). */
  vnicCounters(vnic: string): VnicCounters {
    return { ...this.filterOf(vnic).counters };
  }

  /** A plain-data view of everything, for inspectors and snapshots. */
  inspect(): unknown {
    const vnics: VnicFilterView[] = [...this.vnics.keys()].sort().map((id) => {
      const filter = this.vnics.get(id)!;
      return {
        identity: { ...filter.identity },
        counters: { ...filter.counters },
        connections: this.table.size(id),
        importedRules: filter.imported.map((r) => r.rule.id),
      };
    });
    return {
      node: this.node,
      defaultAction: this.defaultCompiled.rule.action,
      generation: this.ruleGeneration,
      timeouts: { ...this.timeouts },
      rules: this.ruleSet(),
      ruleCounters: this.ruleCounters(),
      vnics,
      connections: this.connections(),
    };
  }

  private filterOf(vnic: string): VnicFilter {
    const filter = this.vnics.get(vnic);
    if (!filter) throw new DfwVnicError(vnic);
    return filter;
  }

  private invalidate(): void {
    for (const filter of this.vnics.values()) filter.chain = null;
  }

  private dropImported(id: string): void {
    for (const filter of this.vnics.values()) filter.imported = filter.imported.filter((r) => r.rule.id !== id);
  }

  private changed(ctx: NodeContext, change: 'add' | 'remove', rule: string): void {
    this.ruleGeneration += 1;
    this.invalidate();
    ctx.emit('dfw.rules', { generation: this.ruleGeneration, count: this.rules.length, change, rule });
  }

  /** The vNIC's rules in evaluation order, the default rule last. */
  private chainOf(filter: VnicFilter): CompiledRule[] {
    if (filter.chain === null) {
      const own = [...this.rules, ...filter.imported].filter((r) => ruleAppliesTo(r, filter.identity));
      filter.chain = [...own.sort((a, b) => compareRules(a.rule, b.rule)), this.defaultCompiled];
    }
    return filter.chain;
  }

  /** Addresses a rule's VM or vNIC id stands for: what the resolver says plus attached identities. */
  private readonly addressesOf = (name: string): IpAddress[] => {
    const out = new Set<IpAddress>();
    for (const address of this.resolveName(name)) {
      const canonical = canonicalAddress(address);
      if (canonical !== null) out.add(canonical);
    }
    for (const filter of this.vnics.values()) {
      const { identity } = filter;
      if (identity.vnic !== name && identity.vm !== name) continue;
      if (identity.ipv4 !== null) out.add(identity.ipv4);
      if (identity.ipv6 !== null) out.add(identity.ipv6);
    }
    return [...out];
  };

  private counterOf(id: string): RuleCounter {
    let counter = this.counters.get(id);
    if (!counter) {
      counter = { hits: 0, packets: 0, bytes: 0 };
      this.counters.set(id, counter);
    }
    return counter;
  }

  /** The entry of a tuple if it has not timed out; a timed-out one is removed on the way. */
  private liveEntry(ctx: NodeContext, vnic: string, tuple: ConnectionTuple, now: VTime): { entry: ConnectionEntry; side: ConnectionSide } | null {
    const found = this.table.find(vnic, tuple);
    if (found && found.entry.expiresAt <= now) {
      this.expire(ctx, found.entry, 'timeout');
      return null;
    }
    return found;
  }

  /** A new SYN on a connection that has finished closing starts a new connection on the same ports. */
  private reopens(entry: ConnectionEntry, packet: IpPacket): boolean {
    return entry.track === 'tcp' && isPureSyn(packet) && (entry.state === 'closed' || entry.state === 'fin-wait');
  }

  private expire(ctx: NodeContext, entry: ConnectionEntry, reason: 'timeout' | 'reused'): void {
    this.table.remove(entry);
    ctx.emit('dfw.conn.expired', {
      vnic: entry.vnic,
      conn: entry.key,
      rule: entry.ruleId,
      proto: entry.tuple.protocol,
      state: entry.state,
      reason,
      origPackets: entry.orig.packets,
      origBytes: entry.orig.bytes,
      replyPackets: entry.reply.packets,
      replyBytes: entry.reply.bytes,
    });
  }

  private judgeByEntry(
    ctx: NodeContext,
    filter: VnicFilter,
    entry: ConnectionEntry,
    side: ConnectionSide,
    packet: IpPacket,
    bytes: number,
    now: VTime,
  ): DfwVerdict {
    const from = entry.state;
    let next: ConnectionState;
    switch (entry.track) {
      case 'tcp':
        next = packet.tcp ? nextTcpState(from as TcpState, entry.close!, side, packet.tcp) : from;
        break;
      case 'udp':
        next = nextUdpState(from as UdpState, side);
        break;
      case 'icmp':
        next = nextIcmpState(from as IcmpState, side);
        break;
    }
    this.table.touch(entry, side, bytes, next, now);
    if (entry.track === 'tcp' && next !== from) {
      ctx.emit('dfw.conn.state', { vnic: entry.vnic, conn: entry.key, rule: entry.ruleId, from, to: next });
    }
    const counter = this.counterOf(entry.ruleId);
    counter.packets++;
    counter.bytes += bytes;
    filter.counters.allowed++;
    return { action: 'allow', ruleId: entry.ruleId, established: true, reply: null };
  }

  /** An ICMP error about a tracked connection travels with it; it moves an ICMP echo entry to its error-reply state. */
  private judgeRelated(filter: VnicFilter, entry: ConnectionEntry, side: ConnectionSide, bytes: number, now: VTime): DfwVerdict {
    if (entry.track === 'icmp') {
      this.table.touch(entry, side, bytes, 'error-reply', now);
    } else {
      const counters = side === 'orig' ? entry.orig : entry.reply;
      counters.packets++;
      counters.bytes += bytes;
    }
    const counter = this.counterOf(entry.ruleId);
    counter.packets++;
    counter.bytes += bytes;
    filter.counters.allowed++;
    return { action: 'allow', ruleId: entry.ruleId, established: true, reply: null };
  }

  /** Whether an allowed packet without an entry opens one. */
  private opensConnection(packet: IpPacket): boolean {
    if (packet.tcp) return isPureSyn(packet) || (this.loosePickup && !packet.tcp.flags.rst);
    if (packet.icmp) return packet.icmp.echo?.request === true;
    return true;
  }

  private evaluate(
    ctx: NodeContext,
    filter: VnicFilter,
    direction: DfwPacketDirection,
    packet: IpPacket,
    tuple: ConnectionTuple | null,
    bytes: number,
    now: VTime,
  ): DfwVerdict {
    const chain = this.chainOf(filter);
    const match = chain.find((r) => ruleMatches(r, packet, direction, this.addressesOf)) ?? this.defaultCompiled;
    const rule = match.rule;
    const counter = this.counterOf(rule.id);
    counter.hits++;
    counter.packets++;
    counter.bytes += bytes;
    const vnic = filter.identity.vnic;
    const flow = {
      proto: packet.protocol,
      src: packet.src,
      dst: packet.dst,
      sport: packet.srcPort,
      dport: packet.dstPort,
      icmpType: packet.icmp?.type ?? null,
    };
    ctx.emit('dfw.rule.hit', { vnic, rule: rule.id, action: rule.action, dir: direction, ...flow });

    switch (rule.action) {
      case 'allow': {
        filter.counters.allowed++;
        if (tuple && this.opensConnection(packet)) this.open(ctx, vnic, tuple, direction, rule.id, packet, bytes, now);
        return { action: 'allow', ruleId: rule.id, established: false, reply: null };
      }
      case 'drop':
        filter.counters.dropped++;
        return { action: 'drop', ruleId: rule.id, established: false, reply: null };
      case 'reject': {
        filter.counters.rejected++;
        const reply = buildRejectReply(packet);
        const sent = reply.kind === 'none' ? null : reply.frame;
        ctx.emit('dfw.reject', {
          vnic,
          rule: rule.id,
          dir: direction,
          ...flow,
          reply: reply.kind,
          silentBecause: reply.kind === 'none' ? reply.reason : null,
          len: sent?.length ?? 0,
        });
        return { action: 'reject', ruleId: rule.id, established: false, reply: sent };
      }
    }
  }

  private open(
    ctx: NodeContext,
    vnic: string,
    tuple: ConnectionTuple,
    direction: DfwPacketDirection,
    ruleId: string,
    packet: IpPacket,
    bytes: number,
    now: VTime,
  ): void {
    const entry = this.table.create(vnic, tuple, direction, ruleId, now);
    let state: ConnectionState = entry.state;
    if (packet.tcp && !isPureSyn(packet)) state = nextTcpState('established', entry.close!, 'orig', packet.tcp);
    this.table.touch(entry, 'orig', bytes, state, now);
    ctx.emit('dfw.conn.new', {
      vnic,
      conn: entry.key,
      rule: ruleId,
      dir: direction,
      proto: tuple.protocol,
      src: tuple.src,
      sport: tuple.srcPort,
      dst: tuple.dst,
      dport: tuple.dstPort,
      state,
    });
  }
}
