/**
 * LLDP (IEEE 802.1AB): how emulated hosts, DPUs and switches tell their neighbours who they are.
 * An LLDPDU is a sequence of TLVs (7-bit type, 9-bit length) that must start with Chassis ID,
 * Port ID and TTL, in that order, and may end with an End Of LLDPDU TLV (always sent here).
 */
import { checkLength, checkRange, clampEnd, concatBytes, need, readU16, readU32, readU8, utf8Decode, utf8Encode, writeU16, writeU32 } from './bytes.js';
import { EncodeError, FrameError } from './errors.js';
import { formatIpv4, formatIpv6, parseIp } from './ip.js';
import type { IpAddress } from './ip.js';
import { formatMac, parseMac } from './mac.js';
import { decodeEthernet, encodeEthernet, ETHERTYPE_LLDP } from './ethernet.js';
import type { MacAddress } from './mac.js';

/** The nearest-bridge group address: LLDP frames sent here are never forwarded by a bridge. */
export const LLDP_MULTICAST_MAC: MacAddress = '01:80:c2:00:00:0e';

/** TLV type: End Of LLDPDU. */
export const LLDP_TLV_END = 0;
/** TLV type: Chassis ID (mandatory, first). */
export const LLDP_TLV_CHASSIS_ID = 1;
/** TLV type: Port ID (mandatory, second). */
export const LLDP_TLV_PORT_ID = 2;
/** TLV type: Time To Live (mandatory, third). */
export const LLDP_TLV_TTL = 3;
/** TLV type: Port Description. */
export const LLDP_TLV_PORT_DESCRIPTION = 4;
/** TLV type: System Name. */
export const LLDP_TLV_SYSTEM_NAME = 5;
/** TLV type: System Description. */
export const LLDP_TLV_SYSTEM_DESCRIPTION = 6;
/** TLV type: System Capabilities. */
export const LLDP_TLV_SYSTEM_CAPABILITIES = 7;
/** TLV type: Management Address. */
export const LLDP_TLV_MANAGEMENT_ADDRESS = 8;
/** TLV type: Organizationally Specific. */
export const LLDP_TLV_ORGANIZATION_SPECIFIC = 127;

/** Chassis ID subtype: MAC address. */
export const LLDP_CHASSIS_MAC_ADDRESS = 4;
/** Chassis ID subtype: network address. */
export const LLDP_CHASSIS_NETWORK_ADDRESS = 5;
/** Chassis ID subtype: interface name. */
export const LLDP_CHASSIS_INTERFACE_NAME = 6;
/** Chassis ID subtype: locally assigned. */
export const LLDP_CHASSIS_LOCAL = 7;
/** Port ID subtype: MAC address. */
export const LLDP_PORT_MAC_ADDRESS = 3;
/** Port ID subtype: network address. */
export const LLDP_PORT_NETWORK_ADDRESS = 4;
/** Port ID subtype: interface name. */
export const LLDP_PORT_INTERFACE_NAME = 5;
/** Port ID subtype: locally assigned. */
export const LLDP_PORT_LOCAL = 7;

/** Management address interface numbering: unknown. */
export const LLDP_IF_NUMBERING_UNKNOWN = 1;
/** Management address interface numbering: ifIndex. */
export const LLDP_IF_NUMBERING_IFINDEX = 2;
/** Management address interface numbering: system port number. */
export const LLDP_IF_NUMBERING_PORT = 3;

/** A system capability, named after its bit in the System Capabilities TLV. */
export type LldpCapability =
  | 'other'
  | 'repeater'
  | 'bridge'
  | 'wlan-access-point'
  | 'router'
  | 'telephone'
  | 'docsis'
  | 'station'
  | 'c-vlan'
  | 's-vlan'
  | 'two-port-mac-relay';

const CAPABILITY_BITS: readonly (readonly [LldpCapability, number])[] = [
  ['other', 0x0001],
  ['repeater', 0x0002],
  ['bridge', 0x0004],
  ['wlan-access-point', 0x0008],
  ['router', 0x0010],
  ['telephone', 0x0020],
  ['docsis', 0x0040],
  ['station', 0x0080],
  ['c-vlan', 0x0100],
  ['s-vlan', 0x0200],
  ['two-port-mac-relay', 0x0400],
];

/** The 16-bit capability mask for a list of capabilities. */
export function lldpCapabilitiesToMask(capabilities: readonly LldpCapability[]): number {
  let mask = 0;
  for (const [name, bit] of CAPABILITY_BITS) if (capabilities.includes(name)) mask |= bit;
  return mask;
}

/** The capabilities in a 16-bit mask, in bit order (undefined bits are ignored). */
export function lldpCapabilitiesFromMask(mask: number): LldpCapability[] {
  return CAPABILITY_BITS.filter(([, bit]) => (mask & bit) !== 0).map(([name]) => name);
}

/**
 * A Chassis ID or Port ID. `value` is text in the form its subtype implies: a canonical MAC for
 * the MAC subtypes, an IP address for the network address subtypes, the string itself otherwise.
 */
export interface LldpId {
  readonly subtype: number;
  readonly value: string;
}

/** System Capabilities: what the system can do and what is turned on. */
export interface LldpCapabilities {
  readonly supported: readonly LldpCapability[];
  readonly enabled: readonly LldpCapability[];
}

/** A Management Address TLV. */
export interface LldpManagementAddress {
  /** IPv4 or IPv6 text. */
  readonly address: IpAddress;
  /** LLDP_IF_NUMBERING_*; default ifIndex. */
  readonly interfaceNumbering?: number;
  readonly interfaceNumber?: number;
  /** Object identifier (BER), usually empty. */
  readonly oid?: Uint8Array;
}

/** An Organizationally Specific TLV, kept raw. */
export interface LldpOrganizationTlv {
  /** The organisation's OUI as `aa:bb:cc`. */
  readonly oui: string;
  readonly subtype: number;
  readonly info: Uint8Array;
}

/** An LLDPDU. Optional TLVs are encoded in the order of this interface. */
export interface Lldpdu {
  readonly chassisId: LldpId;
  readonly portId: LldpId;
  /** Seconds the receiver keeps this information; 0 withdraws it (shutdown). */
  readonly ttlSeconds: number;
  readonly portDescription?: string;
  readonly systemName?: string;
  readonly systemDescription?: string;
  readonly capabilities?: LldpCapabilities;
  readonly managementAddresses?: readonly LldpManagementAddress[];
  readonly organizationTlvs?: readonly LldpOrganizationTlv[];
  /** TLVs of reserved types (9 to 126) found while decoding, kept so nothing is silently lost. */
  readonly unknownTlvs?: readonly { readonly type: number; readonly value: Uint8Array }[];
}

const IANA_FAMILY_IPV4 = 1;
const IANA_FAMILY_IPV6 = 2;

function tlv(type: number, value: Uint8Array): Uint8Array {
  checkLength(`TLV ${type}`, value.length, 511);
  const out = new Uint8Array(2 + value.length);
  writeU16(out, 0, (type << 9) | value.length);
  out.set(value, 2);
  return out;
}

function networkAddressValue(address: IpAddress): Uint8Array {
  const bytes = parseIp(address);
  return concatBytes(new Uint8Array([bytes.length === 4 ? IANA_FAMILY_IPV4 : IANA_FAMILY_IPV6]), bytes);
}

function encodeId(field: string, id: LldpId, macSubtype: number, networkSubtype: number): Uint8Array {
  checkRange(`${field}.subtype`, id.subtype, 1, 255);
  let value: Uint8Array;
  if (id.subtype === macSubtype) value = parseMac(id.value);
  else if (id.subtype === networkSubtype) value = networkAddressValue(id.value);
  else value = utf8Encode(id.value);
  if (value.length === 0) throw new EncodeError('bad-value', `${field}.value`, `LLDP ${field} must not be empty`);
  checkLength(`${field}.value`, value.length, 255);
  return concatBytes(new Uint8Array([id.subtype]), value);
}

function textTlv(type: number, field: string, text: string): Uint8Array {
  const value = utf8Encode(text);
  checkLength(field, value.length, 255);
  return tlv(type, value);
}

/** Encodes an LLDPDU (the Ethernet payload), ending with End Of LLDPDU. */
export function encodeLldp(du: Lldpdu): Uint8Array {
  const parts: Uint8Array[] = [
    tlv(LLDP_TLV_CHASSIS_ID, encodeId('chassisId', du.chassisId, LLDP_CHASSIS_MAC_ADDRESS, LLDP_CHASSIS_NETWORK_ADDRESS)),
    tlv(LLDP_TLV_PORT_ID, encodeId('portId', du.portId, LLDP_PORT_MAC_ADDRESS, LLDP_PORT_NETWORK_ADDRESS)),
  ];
  const ttl = new Uint8Array(2);
  writeU16(ttl, 0, checkRange('ttlSeconds', du.ttlSeconds, 0, 0xffff));
  parts.push(tlv(LLDP_TLV_TTL, ttl));
  if (du.portDescription !== undefined) parts.push(textTlv(LLDP_TLV_PORT_DESCRIPTION, 'portDescription', du.portDescription));
  if (du.systemName !== undefined) parts.push(textTlv(LLDP_TLV_SYSTEM_NAME, 'systemName', du.systemName));
  if (du.systemDescription !== undefined) parts.push(textTlv(LLDP_TLV_SYSTEM_DESCRIPTION, 'systemDescription', du.systemDescription));
  if (du.capabilities !== undefined) {
    const value = new Uint8Array(4);
    writeU16(value, 0, lldpCapabilitiesToMask(du.capabilities.supported));
    writeU16(value, 2, lldpCapabilitiesToMask(du.capabilities.enabled));
    parts.push(tlv(LLDP_TLV_SYSTEM_CAPABILITIES, value));
  }
  for (const management of du.managementAddresses ?? []) {
    const address = networkAddressValue(management.address);
    const oid = management.oid ?? new Uint8Array(0);
    checkLength('managementAddresses.oid', oid.length, 128);
    const value = new Uint8Array(1 + address.length + 5 + 1 + oid.length);
    value[0] = address.length;
    value.set(address, 1);
    let at = 1 + address.length;
    value[at] = checkRange('managementAddresses.interfaceNumbering', management.interfaceNumbering ?? LLDP_IF_NUMBERING_IFINDEX, 1, 3);
    writeU32(value, at + 1, checkRange('managementAddresses.interfaceNumber', management.interfaceNumber ?? 0, 0, 0xffffffff));
    at += 5;
    value[at] = oid.length;
    value.set(oid, at + 1);
    parts.push(tlv(LLDP_TLV_MANAGEMENT_ADDRESS, value));
  }
  for (const org of du.organizationTlvs ?? []) {
    const oui = parseOui(org.oui);
    parts.push(tlv(LLDP_TLV_ORGANIZATION_SPECIFIC, concatBytes(oui, new Uint8Array([checkRange('subtype', org.subtype, 0, 255)]), org.info)));
  }
  for (const unknown of du.unknownTlvs ?? []) {
    parts.push(tlv(checkRange('unknownTlvs.type', unknown.type, 9, 126), unknown.value));
  }
  parts.push(tlv(LLDP_TLV_END, new Uint8Array(0)));
  return concatBytes(...parts);
}

function parseOui(text: string): Uint8Array {
  const match = /^([0-9a-fA-F]{2})[:-]([0-9a-fA-F]{2})[:-]([0-9a-fA-F]{2})$/.exec(text);
  if (match === null) throw new EncodeError('bad-value', 'organizationTlvs.oui', `OUI ${JSON.stringify(text)} is not three hex pairs`);
  return new Uint8Array([parseInt(match[1]!, 16), parseInt(match[2]!, 16), parseInt(match[3]!, 16)]);
}

const TLV_NAMES: Record<number, string> = {
  0: 'End Of LLDPDU',
  1: 'Chassis ID',
  2: 'Port ID',
  3: 'TTL',
  4: 'Port Description',
  5: 'System Name',
  6: 'System Description',
  7: 'System Capabilities',
  8: 'Management Address',
  127: 'Organizationally Specific',
};

function tlvName(type: number): string {
  return TLV_NAMES[type] ?? `reserved type ${type}`;
}

function decodeNetworkAddress(bytes: Uint8Array, start: number, end: number, what: string): string {
  const family = readU8(bytes, start);
  const length = end - start - 1;
  if (family === IANA_FAMILY_IPV4 && length === 4) return formatIpv4(bytes, start + 1);
  if (family === IANA_FAMILY_IPV6 && length === 16) return formatIpv6(bytes, start + 1);
  if (family === IANA_FAMILY_IPV4 || family === IANA_FAMILY_IPV6) {
    throw new FrameError('bad-length', 'lldp', `LLDP ${what} is ${length} bytes for address family ${family}`, start);
  }
  throw new FrameError('unsupported', 'lldp', `LLDP ${what} uses address family ${family}, only IPv4 (1) and IPv6 (2) are handled`, start);
}

function decodeId(bytes: Uint8Array, start: number, end: number, what: string, macSubtype: number, networkSubtype: number): LldpId {
  const subtype = readU8(bytes, start);
  if (subtype === macSubtype) {
    if (end - start !== 7) throw new FrameError('bad-length', 'lldp', `LLDP ${what} MAC address is ${end - start - 1} bytes, expected 6`, start);
    return { subtype, value: formatMac(bytes, start + 1) };
  }
  if (subtype === networkSubtype) return { subtype, value: decodeNetworkAddress(bytes, start + 1, end, `${what} network address`) };
  return { subtype, value: utf8Decode(bytes.subarray(start + 1, end)) };
}

/**
 * Decodes and validates an LLDPDU at `offset` (the Ethernet payload). Rejects an LLDPDU whose
 * first three TLVs are not Chassis ID, Port ID and TTL (`malformed` if another TLV stands in
 * their place, `truncated` if the data ends first), duplicated single-instance TLVs, TLV lengths
 * outside the standard's bounds, and a TLV cut off by the end of the data. Decoding stops at End
 * Of LLDPDU, so zero padding after it is ignored; since 802.1AB-2009 the End TLV is optional, so
 * data that ends exactly after a whole TLV is accepted too.
 */
export function decodeLldp(bytes: Uint8Array, offset = 0, end?: number): Lldpdu {
  const limit = clampEnd(bytes, end);
  const mandatory = [LLDP_TLV_CHASSIS_ID, LLDP_TLV_PORT_ID, LLDP_TLV_TTL];
  const seen = new Set<number>();
  let chassisId: LldpId | undefined;
  let portId: LldpId | undefined;
  let ttlSeconds = 0;
  let portDescription: string | undefined;
  let systemName: string | undefined;
  let systemDescription: string | undefined;
  let capabilities: LldpCapabilities | undefined;
  const managementAddresses: LldpManagementAddress[] = [];
  const organizationTlvs: LldpOrganizationTlv[] = [];
  const unknownTlvs: { type: number; value: Uint8Array }[] = [];

  const finish = (): Lldpdu => ({
    chassisId: chassisId!,
    portId: portId!,
    ttlSeconds,
    ...(portDescription !== undefined ? { portDescription } : {}),
    ...(systemName !== undefined ? { systemName } : {}),
    ...(systemDescription !== undefined ? { systemDescription } : {}),
    ...(capabilities !== undefined ? { capabilities } : {}),
    managementAddresses,
    organizationTlvs,
    unknownTlvs,
  });

  let at = offset;
  for (let index = 0; ; index++) {
    // Past the mandatory three, the data may simply end: the End TLV is optional.
    if (index >= mandatory.length && at === limit) return finish();
    need(at, 2, limit, 'lldp', index < mandatory.length ? `LLDP ${tlvName(mandatory[index]!)} TLV` : 'LLDP TLV header');
    const header = readU16(bytes, at);
    const type = header >>> 9;
    const length = header & 0x1ff;
    const start = at + 2;
    const stop = start + length;
    const expected = mandatory[index];
    if (expected !== undefined && type !== expected) {
      throw new FrameError('malformed', 'lldp', `LLDP TLV ${index + 1} is ${tlvName(type)}, expected ${tlvName(expected)}`, at);
    }
    if (expected === undefined && type >= LLDP_TLV_CHASSIS_ID && type <= LLDP_TLV_SYSTEM_CAPABILITIES && seen.has(type)) {
      throw new FrameError('malformed', 'lldp', `LLDP ${tlvName(type)} TLV appears more than once`, at);
    }
    seen.add(type);
    need(start, length, limit, 'lldp', `LLDP ${tlvName(type)} TLV value`);
    const badLength = (bounds: string): FrameError =>
      new FrameError('bad-length', 'lldp', `LLDP ${tlvName(type)} TLV length is ${length}, expected ${bounds}`, at);

    switch (type) {
      case LLDP_TLV_END:
        if (length !== 0) throw badLength('0');
        return finish();
      case LLDP_TLV_CHASSIS_ID:
        if (length < 2 || length > 256) throw badLength('2 to 256');
        chassisId = decodeId(bytes, start, stop, 'chassis ID', LLDP_CHASSIS_MAC_ADDRESS, LLDP_CHASSIS_NETWORK_ADDRESS);
        break;
      case LLDP_TLV_PORT_ID:
        if (length < 2 || length > 256) throw badLength('2 to 256');
        portId = decodeId(bytes, start, stop, 'port ID', LLDP_PORT_MAC_ADDRESS, LLDP_PORT_NETWORK_ADDRESS);
        break;
      case LLDP_TLV_TTL:
        if (length !== 2) throw badLength('2');
        ttlSeconds = readU16(bytes, start);
        break;
      case LLDP_TLV_PORT_DESCRIPTION:
      case LLDP_TLV_SYSTEM_NAME:
      case LLDP_TLV_SYSTEM_DESCRIPTION: {
        if (length > 255) throw badLength('at most 255');
        const text = utf8Decode(bytes.subarray(start, stop));
        if (type === LLDP_TLV_PORT_DESCRIPTION) portDescription = text;
        else if (type === LLDP_TLV_SYSTEM_NAME) systemName = text;
        else systemDescription = text;
        break;
      }
      case LLDP_TLV_SYSTEM_CAPABILITIES:
        if (length !== 4) throw badLength('4');
        capabilities = {
          supported: lldpCapabilitiesFromMask(readU16(bytes, start)),
          enabled: lldpCapabilitiesFromMask(readU16(bytes, start + 2)),
        };
        break;
      case LLDP_TLV_MANAGEMENT_ADDRESS: {
        if (length < 9 || length > 167) throw badLength('9 to 167');
        const addressLength = readU8(bytes, start); // subtype byte plus address
        if (addressLength < 2 || addressLength > 32 || start + 1 + addressLength + 6 > stop) {
          throw new FrameError('bad-length', 'lldp', `LLDP management address length is ${addressLength}, which does not fit the TLV`, start);
        }
        const address = decodeNetworkAddress(bytes, start + 1, start + 1 + addressLength, 'management address');
        const at2 = start + 1 + addressLength;
        const oidLength = readU8(bytes, at2 + 5);
        if (at2 + 6 + oidLength !== stop) {
          throw new FrameError('bad-length', 'lldp', `LLDP management address OID length is ${oidLength}, which does not match the TLV`, at2 + 5);
        }
        managementAddresses.push({
          address,
          interfaceNumbering: readU8(bytes, at2),
          interfaceNumber: readU32(bytes, at2 + 1),
          oid: bytes.subarray(at2 + 6, stop),
        });
        break;
      }
      case LLDP_TLV_ORGANIZATION_SPECIFIC:
        if (length < 4) throw badLength('at least 4');
        organizationTlvs.push({
          oui: [0, 1, 2].map((i) => readU8(bytes, start + i).toString(16).padStart(2, '0')).join(':'),
          subtype: readU8(bytes, start + 3),
          info: bytes.subarray(start + 4, stop),
        });
        break;
      default:
        unknownTlvs.push({ type, value: bytes.subarray(start, stop) });
    }
    at = stop;
  }
}

/** Fields for buildLldpFrame: one port's advertisement as an emulated box sends it. */
export interface LldpFrameFields {
  /** The sending port's MAC (Ethernet source). */
  readonly srcMac: MacAddress;
  /** Identifies the box: sent as a MAC-address Chassis ID (subtype 4). */
  readonly chassisMac: MacAddress;
  /** The sending port's name: sent as an interface-name Port ID (subtype 5). */
  readonly portId: string;
  /** Seconds the neighbour keeps the information (802.1AB's default is 120). */
  readonly ttlSec: number;
  readonly systemName?: string;
  readonly systemDescription?: string;
  readonly portDescription?: string;
  /** Capabilities the box has; all of them are advertised as both supported and enabled unless given separately. */
  readonly capabilities?: readonly LldpCapability[] | LldpCapabilities;
  /** An IPv4 management address, advertised with ifIndex numbering. */
  readonly mgmtIpv4?: IpAddress;
  /** The ifIndex that goes with mgmtIpv4 (default 0, unknown). */
  readonly mgmtIfIndex?: number;
  /** Pad to the 60-byte Ethernet minimum; default true. */
  readonly pad?: boolean;
}

/** Builds a complete LLDP frame to 01:80:c2:00:00:0e, padded to the Ethernet minimum. */
export function buildLldpFrame(fields: LldpFrameFields): Uint8Array {
  const capabilities =
    fields.capabilities === undefined
      ? undefined
      : 'supported' in fields.capabilities
        ? fields.capabilities
        : { supported: fields.capabilities, enabled: fields.capabilities };
  const du: Lldpdu = {
    chassisId: { subtype: LLDP_CHASSIS_MAC_ADDRESS, value: fields.chassisMac },
    portId: { subtype: LLDP_PORT_INTERFACE_NAME, value: fields.portId },
    ttlSeconds: fields.ttlSec,
    ...(fields.portDescription !== undefined ? { portDescription: fields.portDescription } : {}),
    ...(fields.systemName !== undefined ? { systemName: fields.systemName } : {}),
    ...(fields.systemDescription !== undefined ? { systemDescription: fields.systemDescription } : {}),
    ...(capabilities !== undefined ? { capabilities } : {}),
    ...(fields.mgmtIpv4 !== undefined
      ? {
          managementAddresses: [
            { address: fields.mgmtIpv4, interfaceNumbering: LLDP_IF_NUMBERING_IFINDEX, interfaceNumber: fields.mgmtIfIndex ?? 0 },
          ],
        }
      : {}),
  };
  return encodeEthernet({ dst: LLDP_MULTICAST_MAC, src: fields.srcMac, etherType: ETHERTYPE_LLDP, payload: encodeLldp(du), pad: fields.pad ?? true });
}

/**
 * Decodes a whole LLDP frame (Ethernet header, optional VLAN tag, LLDPDU). Throws
 * `unsupported` if the frame is not LLDP, so a caller that forgot to check the EtherType still
 * gets a FrameError rather than nonsense.
 */
export function decodeLldpFrame(bytes: Uint8Array): Lldpdu {
  const ethernet = decodeEthernet(bytes);
  if (ethernet.etherType !== ETHERTYPE_LLDP) {
    throw new FrameError('unsupported', 'lldp', `Ethernet type is 0x${ethernet.etherType.toString(16).padStart(4, '0')}, not LLDP (0x88cc)`, ethernet.payloadOffset - 2);
  }
  return decodeLldp(bytes, ethernet.payloadOffset);
}
