/**
 * The IP layer of a frame, whichever family: the decoded header and what a transport decoder
 * needs beside it (the pseudo-header's addresses for its checksum, whether this is a later
 * fragment without a transport header). The frame decoder and the firewall's parser share it.
 */
import type { PseudoHeader } from './checksum.js';
import { ETHERTYPE_IPV4, ETHERTYPE_IPV6 } from './ethernet.js';
import { decodeIpv4, type DecodedIpv4 } from './ipv4.js';
import { decodeIpv6, type DecodedIpv6 } from './ipv6.js';

/** An IPv4 or IPv6 header, decoded, with its pseudo-header addresses. */
export type IpLayer = (
  | { readonly family: 4; readonly ip: DecodedIpv4 }
  | { readonly family: 6; readonly ip: DecodedIpv6 }
) & {
  /** A fragment other than the first: it carries no transport header. */
  readonly laterFragment: boolean;
  /** The source and destination addresses as the transport checksum's pseudo-header takes them. */
  readonly pseudo: PseudoHeader;
};

/**
 * Decodes the IP header at `at` of a frame whose EtherType is `etherType`, or returns null when
 * that EtherType is neither IPv4 nor IPv6. Throws FrameError for a malformed header.
 */
export function decodeIpLayer(bytes: Uint8Array, etherType: number, at: number, end: number, verifyChecksum: boolean): IpLayer | null {
  if (etherType === ETHERTYPE_IPV4) {
    const ip = decodeIpv4(bytes, at, end, { verifyChecksum });
    return { family: 4, ip, laterFragment: ip.fragmentOffset !== 0, pseudo: { src: bytes.subarray(at + 12, at + 16), dst: bytes.subarray(at + 16, at + 20) } };
  }
  if (etherType === ETHERTYPE_IPV6) {
    const ip = decodeIpv6(bytes, at, end);
    return { family: 6, ip, laterFragment: ip.fragment !== undefined && ip.fragment.offset !== 0, pseudo: { src: bytes.subarray(at + 8, at + 24), dst: bytes.subarray(at + 24, at + 40) } };
  }
  return null;
}
