import type { VTime } from '../../../shared/events.js';
import { buildUdpIpv4Frame } from '../../../shared/net/builders.js';
import { encodeIpfixMessage, FIREWALL_EVENT, IPFIX_IE, IPFIX_MESSAGE_HEADER_LENGTH, IPFIX_SET_HEADER_LENGTH, IPFIX_UDP_PORT, ipfixRecordLength } from '../../../shared/net/ipfix.js';
import type { IpfixDataRecord, IpfixTemplate } from '../../../shared/net/ipfix.js';
import type { ResolvedTopology } from '../../../shared/topology/types.js';
import { DPU_MGMT_IP, HOST_MGMT_IP } from '../../pcie/heartbeat.js';
import type { Channel, NodeContext } from '../../runtime/types.js';
import { IpfixOptionError } from './errors.js';
import { FLOW_END_REASON_CODES } from './flow-cache.js';
import type { FlowRecord } from './flow-cache.js';

/** Template id of IPv4 flow records. */
export const IPV4_FLOW_TEMPLATE_ID = 256;
/** Template id of IPv6 flow records. */
export const IPV6_FLOW_TEMPLATE_ID = 257;

const COMMON_FIELDS = [
  { id: IPFIX_IE.protocolIdentifier, length: 1 },
  { id: IPFIX_IE.sourceTransportPort, length: 2 },
  { id: IPFIX_IE.destinationTransportPort, length: 2 },
  { id: IPFIX_IE.ingressInterface, length: 4 },
  { id: IPFIX_IE.egressInterface, length: 4 },
  { id: IPFIX_IE.octetDeltaCount, length: 8 },
  { id: IPFIX_IE.packetDeltaCount, length: 8 },
  { id: IPFIX_IE.flowStartNanoseconds, length: 8 },
  { id: IPFIX_IE.flowEndNanoseconds, length: 8 },
  { id: IPFIX_IE.flowEndReason, length: 1 },
  { id: IPFIX_IE.firewallEvent, length: 1 },
] as const;

/** The IPv4 flow template: addresses, protocol, ports, interfaces, counters, times, end reason, firewall event. */
export const IPV4_FLOW_TEMPLATE: IpfixTemplate = {
  templateId: IPV4_FLOW_TEMPLATE_ID,
  fields: [{ id: IPFIX_IE.sourceIPv4Address, length: 4 }, { id: IPFIX_IE.destinationIPv4Address, length: 4 }, ...COMMON_FIELDS],
};

/** The IPv6 flow template: the same fields with IPv6 addresses. */
export const IPV6_FLOW_TEMPLATE: IpfixTemplate = {
  templateId: IPV6_FLOW_TEMPLATE_ID,
  fields: [{ id: IPFIX_IE.sourceIPv6Address, length: 16 }, { id: IPFIX_IE.destinationIPv6Address, length: 16 }, ...COMMON_FIELDS],
};

/** Both flow templates, IPv4 first: what a template refresh sends. */
export const FLOW_TEMPLATES: readonly IpfixTemplate[] = [IPV4_FLOW_TEMPLATE, IPV6_FLOW_TEMPLATE];

/** One end of the management network: a MAC and an IPv4 address. */
export interface MgmtEndpoint {
  readonly mac: string;
  readonly ip: string;
}

/** How an exporter frames and paces its messages. */
export interface IpfixExporterOptions {
  /** Observation domain id; one per DPU. */
  readonly domainId: number;
  /** The exporter: the DPU's pcie port MAC and its management address. */
  readonly from: MgmtEndpoint;
  /** The collector: the host's port towards this DPU and its management address. */
  readonly to: MgmtEndpoint;
  /** UDP port of the collector; default 4739. */
  readonly collectorPort?: number;
  /** UDP source port; default 4739. */
  readonly sourcePort?: number;
  /** Templates go in the first message and then in every N-th one (UDP needs repeats); default 20. */
  readonly templateRefreshMessages?: number;
  /** Largest IPFIX message; default 1400 bytes, so a message fits a 1500-byte MTU in one frame. */
  readonly maxMessageBytes?: number;
}

/** One exported message. */
export interface IpfixExport {
  /** The Ethernet/IPv4/UDP frame carrying the message. */
  readonly frame: Uint8Array;
  /** The IPFIX message alone (the UDP payload). */
  readonly message: Uint8Array;
  readonly sequence: number;
  readonly records: number;
  readonly templates: boolean;
}

/** The default template refresh: every 20 messages. */
export const DEFAULT_TEMPLATE_REFRESH_MESSAGES = 20;
/** The default largest message. */
export const DEFAULT_MAX_MESSAGE_BYTES = 1400;

const TEMPLATE_SET_LENGTH = IPFIX_SET_HEADER_LENGTH + FLOW_TEMPLATES.reduce((n, t) => n + 4 + 4 * t.fields.length, 0);
const TWO_32 = 0x1_0000_0000;

/**
 * The firewallEvent of a closed record: a denied flow is `flowDenied`; a forwarded one closed by
 * the active timeout goes on (`flowUpdate`), any other is over (`flowDeleted`).
 */
export function firewallEventOf(flow: FlowRecord): number {
  if (flow.verdict === 'denied') return FIREWALL_EVENT.flowDenied;
  return flow.endReason === 'active-timeout' ? FIREWALL_EVENT.flowUpdate : FIREWALL_EVENT.flowDeleted;
}

/** The data record of a closed flow. */
export function flowToIpfixRecord(flow: FlowRecord): IpfixDataRecord {
  const v4 = flow.family === 4;
  return {
    templateId: v4 ? IPV4_FLOW_TEMPLATE_ID : IPV6_FLOW_TEMPLATE_ID,
    values: {
      [v4 ? 'sourceIPv4Address' : 'sourceIPv6Address']: flow.srcIp,
      [v4 ? 'destinationIPv4Address' : 'destinationIPv6Address']: flow.dstIp,
      protocolIdentifier: flow.protocol,
      sourceTransportPort: flow.srcPort,
      destinationTransportPort: flow.dstPort,
      ingressInterface: flow.ingress,
      egressInterface: flow.egress,
      octetDeltaCount: flow.octets,
      packetDeltaCount: flow.packets,
      flowStartNanoseconds: flow.startNs,
      flowEndNanoseconds: flow.endNs,
      flowEndReason: FLOW_END_REASON_CODES[flow.endReason],
      firewallEvent: firewallEventOf(flow),
    },
  };
}

/** Bytes of a message with `v4` and `v6` records (data sets padded to 4 bytes). */
function messageLength(templates: boolean, v4: number, v6: number): number {
  const set = (count: number, template: IpfixTemplate): number => (count === 0 ? 0 : (IPFIX_SET_HEADER_LENGTH + ipfixRecordLength(template) * count + 3) & ~3);
  return IPFIX_MESSAGE_HEADER_LENGTH + (templates ? TEMPLATE_SET_LENGTH : 0) + set(v4, IPV4_FLOW_TEMPLATE) + set(v6, IPV6_FLOW_TEMPLATE);
}

/**
 * The exporting process of a DPU: turns closed flow records into IPFIX messages (RFC 7011) in
 * UDP/IPv4 frames to the collector on the management network. It keeps the sequence number
 * (data records sent before each message, modulo 2^32) and sends the templates in the first
 * message and every `templateRefreshMessages` messages after it.
 */
export class IpfixExporter {
  readonly domainId: number;
  private readonly from: MgmtEndpoint;
  private readonly to: MgmtEndpoint;
  private readonly collectorPort: number;
  private readonly sourcePort: number;
  private readonly refresh: number;
  private readonly maxBytes: number;
  private recordsSent = 0;
  private messagesSent = 0;

  /** @throws IpfixOptionError for a refresh interval below 1 or a message size too small for the templates and one record */
  constructor(options: IpfixExporterOptions) {
    this.domainId = options.domainId;
    this.from = options.from;
    this.to = options.to;
    this.collectorPort = options.collectorPort ?? IPFIX_UDP_PORT;
    this.sourcePort = options.sourcePort ?? IPFIX_UDP_PORT;
    this.refresh = options.templateRefreshMessages ?? DEFAULT_TEMPLATE_REFRESH_MESSAGES;
    this.maxBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    if (!Number.isSafeInteger(this.refresh) || this.refresh < 1) {
      throw new IpfixOptionError('templateRefreshMessages', `Template refresh is every ${String(this.refresh)} messages, expected a positive integer`);
    }
    const smallest = messageLength(true, 0, 1);
    if (!Number.isSafeInteger(this.maxBytes) || this.maxBytes < smallest || this.maxBytes > 0xffff) {
      throw new IpfixOptionError('maxMessageBytes', `Largest IPFIX message is ${String(this.maxBytes)} bytes, expected ${smallest} to 65535 (the templates and one IPv6 record)`);
    }
  }

  /** Messages built so far. */
  get messages(): number {
    return this.messagesSent;
  }

  /** Data records exported so far (the next message's sequence number, before the modulo). */
  get records(): number {
    return this.recordsSent;
  }

  /**
   * Builds the messages carrying `flows` at virtual time `now` (the export time is whole seconds
   * of it): IPv4 records first, then IPv6, as many per message as `maxMessageBytes` allows. No
   * flows, no message.
   */
  build(now: VTime, flows: readonly FlowRecord[]): IpfixExport[] {
    const v4 = flows.filter((f) => f.family === 4);
    const v6 = flows.filter((f) => f.family === 6);
    const out: IpfixExport[] = [];
    while (v4.length > 0 || v6.length > 0) {
      const templates = this.messagesSent % this.refresh === 0;
      let n4 = 0;
      let n6 = 0;
      while (n4 < v4.length && messageLength(templates, n4 + 1, 0) <= this.maxBytes) n4++;
      if (n4 === v4.length) while (n6 < v6.length && messageLength(templates, n4, n6 + 1) <= this.maxBytes) n6++;
      const batch = [...v4.splice(0, n4), ...v6.splice(0, n6)];
      const sequence = this.recordsSent % TWO_32;
      const message = encodeIpfixMessage(
        {
          exportTimeSec: Math.floor(now / 1e9),
          sequence,
          domainId: this.domainId,
          ...(templates ? { templates: FLOW_TEMPLATES } : {}),
          records: batch.map(flowToIpfixRecord),
        },
        FLOW_TEMPLATES,
      );
      const frame = buildUdpIpv4Frame({
        srcMac: this.from.mac,
        dstMac: this.to.mac,
        srcIp: this.from.ip,
        dstIp: this.to.ip,
        srcPort: this.sourcePort,
        dstPort: this.collectorPort,
        payload: message,
      });
      this.recordsSent += batch.length;
      this.messagesSent += 1;
      out.push({ frame, message, sequence, records: batch.length, templates });
    }
    return out;
  }

  /**
   * Builds the messages for `flows`, sends each frame out of `port` (the DPU's pcie port, on the
   * management channel) and records `ipfix.export` for each: sequence, records, templates (sent
   * or not) and bytes (the IPFIX message length).
   */
  export(ctx: NodeContext, flows: readonly FlowRecord[], port: string, channel: Channel = 'mgmt'): IpfixExport[] {
    const exports = this.build(ctx.now(), flows);
    for (const e of exports) {
      ctx.send(port, e.frame, channel);
      ctx.emit('ipfix.export', { sequence: e.sequence, records: e.records, templates: e.templates, bytes: e.message.length });
    }
    return exports;
  }
}

/**
 * The management endpoints of a DPU's exporter in a topology: the DPU's pcie port and
 * 169.254.0.2, towards the host's port for this DPU and 169.254.0.1, where the collector listens.
 * Null when the DPU or its host is not in the topology.
 */
export function ipfixEndpoints(topology: ResolvedTopology, dpuId: string): { from: MgmtEndpoint; to: MgmtEndpoint } | null {
  const dpu = topology.nodes.find((n) => n.id === dpuId);
  if (dpu?.kind !== 'dpu') return null;
  const host = topology.nodes.find((n) => n.id === dpu.spec.host);
  const dpuPort = dpu.ports.find((p) => p.name === 'pcie');
  const hostPort = host?.ports.find((p) => p.name === dpuId);
  if (!dpuPort || !hostPort) return null;
  return { from: { mac: dpuPort.mac, ip: DPU_MGMT_IP }, to: { mac: hostPort.mac, ip: HOST_MGMT_IP } };
}
