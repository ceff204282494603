/**
 * What a recorded frame carries, in one word a person filters by (`TCP`, `ARP`, `heartbeat`,
 * `GENEVE/TCP`), and whether it is pcie housekeeping: the traffic a host and its DPU exchange to
 * keep going (heartbeats, doorbells, ring completions and refills) rather than what a guest, a
 * switch or the management plane said. The event list shows the first as a column and hides the
 * second by default: in the default lab they are most of the `frame.tx` events.
 */
import { tryDecodeFrame, innermostFrame, peekEtherType, type DecodedFrame } from '../../shared/net/frame.js';
import { GENEVE_UDP_PORT } from '../../shared/net/geneve.js';
import { IPFIX_UDP_PORT } from '../../shared/net/ipfix.js';
import { HEARTBEAT_UDP_PORT } from '../pcie/heartbeat.js';
import { HA_SYNC_UDP_PORT } from '../pcie/mgmt-network.js';
import { decodeDma, decodeMailbox, PcieMessageError } from '../pcie/messages.js';
import { ETHERTYPE_RARP } from '../vds/switching/rarp.js';
import { VMOTION_UDP_PORT } from '../vds/vmotion-net.js';
import { MGMT_UDP_PORT } from '../mgmt/addresses.js';

/** The protocol and housekeeping flag of one `frame.tx`. */
export interface FrameProtocol {
  /** `TCP`, `UDP`, `ICMP`, `ICMPv6`, `ARP`, `RARP`, `LLDP`, an application on a known UDP port, `GENEVE/<inner>`, or for pcie device channels `doorbell`, `DMA txcomp`, `mailbox vf.bind`, ... */
  readonly protocol: string;
  /** Heartbeats, doorbells, TX completions and RX refills on a pcie wire. */
  readonly housekeeping: boolean;
}

/** UDP services dpulab's nodes speak, by port: a name tells more than `UDP`. */
const UDP_SERVICES: ReadonlyMap<number, string> = new Map([
  [HEARTBEAT_UDP_PORT, 'heartbeat'],
  [HA_SYNC_UDP_PORT, 'HA sync'],
  [VMOTION_UDP_PORT, 'vMotion'],
  [IPFIX_UDP_PORT, 'IPFIX'],
  [MGMT_UDP_PORT, 'mgmt'],
]);

/** The top protocol of one decoded Ethernet frame (without following a tunnel). */
function topProtocol(frame: DecodedFrame): string {
  if (frame.arp) return 'ARP';
  if (frame.lldp) return 'LLDP';
  if (frame.tcp) return 'TCP';
  if (frame.icmp) return 'ICMP';
  if (frame.icmpv6) return 'ICMPv6';
  if (frame.udp) return UDP_SERVICES.get(frame.udp.dstPort) ?? UDP_SERVICES.get(frame.udp.srcPort) ?? 'UDP';
  if (frame.ipv4) return 'IPv4';
  if (frame.ipv6) return 'IPv6';
  return 'Ethernet';
}

/** The protocol of an Ethernet frame's bytes, through GENEVE to the frame it carries. */
export function ethernetProtocol(bytes: Uint8Array): string {
  const decoded = tryDecodeFrame(bytes, { verifyChecksums: false });
  if (!decoded.ok) {
    const type = bytes.length >= 14 ? peekEtherType(bytes) : -1;
    return type === ETHERTYPE_RARP ? 'RARP' : 'malformed';
  }
  const frame = decoded.frame;
  if (frame.geneve || frame.udp?.dstPort === GENEVE_UDP_PORT) {
    const inner = innermostFrame(frame);
    return inner === frame ? 'GENEVE' : `GENEVE/${topProtocol(inner)}`;
  }
  return topProtocol(frame);
}

/**
 * The protocol of a `frame.tx` payload's frame: `channel` is the pcie channel (`eth` on an
 * Ethernet wire), `bytes` what crossed it.
 */
export function frameProtocol(channel: unknown, bytes: Uint8Array | null): FrameProtocol {
  if (bytes === null) return { protocol: String(channel ?? 'unknown'), housekeeping: false };
  try {
    switch (channel) {
      case undefined:
      case 'eth':
        return { protocol: ethernetProtocol(bytes), housekeeping: false };
      case 'mgmt': {
        const protocol = ethernetProtocol(bytes);
        return { protocol, housekeeping: protocol === 'heartbeat' };
      }
      case 'doorbell':
        return { protocol: 'doorbell', housekeeping: true };
      case 'dma': {
        const message = decodeDma(bytes);
        if (message.op === 'tx' || message.op === 'rx') return { protocol: ethernetProtocol(message.frame), housekeeping: false };
        return { protocol: `DMA ${message.op}`, housekeeping: true };
      }
      case 'mailbox':
        return { protocol: `mailbox ${decodeMailbox(bytes).op}`, housekeeping: false };
      default:
        return { protocol: String(channel), housekeeping: false };
    }
  } catch (error) {
    if (error instanceof PcieMessageError) return { protocol: 'malformed', housekeeping: false };
    throw error;
  }
}

/** A guest's frame on a pcie `dma` channel: which way it went (`tx` from the guest, `rx` to it), its vNIC and its bytes. */
export interface GuestFrame {
  readonly op: 'tx' | 'rx';
  readonly vnic: string;
  readonly frame: Uint8Array;
}

/** The guest frame a `frame.tx` carries on a `dma` channel, or null (another channel, ring bookkeeping, malformed). */
export function guestFrameOf(channel: unknown, bytes: Uint8Array): GuestFrame | null {
  if (channel !== 'dma') return null;
  try {
    const message = decodeDma(bytes);
    return message.op === 'tx' || message.op === 'rx' ? { op: message.op, vnic: message.vnic, frame: message.frame } : null;
  } catch (error) {
    if (error instanceof PcieMessageError) return null;
    throw error;
  }
}
