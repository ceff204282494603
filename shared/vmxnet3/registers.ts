/**
 * The vmxnet3 register interface: BAR offsets, command codes, bits and limits, with the values of
 * Linux `drivers/net/vmxnet3/vmxnet3_defs.h` and `upt1_defs.h`.
 *
 * BAR0 is the passthrough BAR (doorbells and interrupt masks: what a guest touches on the hot path,
 * and what UPT maps straight onto a DPU virtual function); BAR1 is the virtual-device BAR (revision,
 * driver-shared area address, command, MAC, interrupt and event causes), which the hypervisor
 * always emulates.
 */
import { formatMac, parseMac } from '../net/mac.js';
import type { MacAddress } from '../net/mac.js';

/** The two register windows of the device. */
export type Bar = 0 | 1;

/** Registers are 64-bit slots: the per-queue and per-vector copies of a register are 8 bytes apart. */
export const REG_STRIDE = 8;

/** BAR0 (passthrough) registers. IMR repeats per interrupt vector, the producers per queue. */
export const BAR0 = {
  /** Interrupt Mask Register of vector 0; vector v at IMR + 8v. Non-zero masks the vector. */
  IMR: 0x0,
  /** TX producer index of queue 0: the next descriptor slot the driver will fill. */
  TXPROD: 0x600,
  /** RX producer index of ring 1 of queue 0. */
  RXPROD: 0x800,
  /** RX producer index of ring 2 of queue 0. */
  RXPROD2: 0xa00,
} as const;

/** BAR1 (virtual device) registers. */
export const BAR1 = {
  /** vmxnet3 Revision Report Selection: reads the supported revisions as a bitmap, the driver writes the one it picked. */
  VRRS: 0x0,
  /** UPT Version Report Selection, same protocol as VRRS. */
  UVRS: 0x8,
  /** Driver-shared area guest-physical address, low 32 bits. */
  DSAL: 0x10,
  /** Driver-shared area guest-physical address, high 32 bits. */
  DSAH: 0x18,
  /** Command: write a command code, read back its result. */
  CMD: 0x20,
  /** MAC address bytes 0..3, little-endian. */
  MACL: 0x28,
  /** MAC address bytes 4..5, little-endian. */
  MACH: 0x30,
  /** Interrupt Cause Register: vectors with an interrupt pending behind a mask (read-only here). */
  ICR: 0x38,
  /** Event Cause Register: ECR_* bits; the driver writes the bits it handled to clear them. */
  ECR: 0x40,
  /** Device Capability Registers, 0x48 to 0x80 (revision 7 and later), read-only. */
  DCR: 0x48,
  /** Passthrough Capability Registers, 0x88 to 0xb0, read-only. */
  PTCR: 0x88,
} as const;

/** Number of DCR registers (0x48..0x80). */
export const DCR_COUNT = 8;
/** Number of PTCR registers (0x88..0xb0). */
export const PTCR_COUNT = 6;

/**
 * Command codes written to BAR1 CMD. SET commands change the device and read the driver-shared
 * area; GET commands leave a result to read back from CMD.
 *
 * The order follows the Linux header. 0xCAFE000A is `RESERVED1` in current Linux and
 * `STOP_EMULATION` in VMware's own header; older Linux headers leave it out and so number
 * LOAD_PLUGIN one lower. Codes from 0xCAFE000C on, and GET codes from 0xF00D0009 on, are given as
 * remembered from recent headers and are not implemented by this model.
 */
export const CMD = {
  ACTIVATE_DEV: 0xcafe0000,
  QUIESCE_DEV: 0xcafe0001,
  RESET_DEV: 0xcafe0002,
  UPDATE_RX_MODE: 0xcafe0003,
  UPDATE_MAC_FILTERS: 0xcafe0004,
  UPDATE_VLAN_FILTERS: 0xcafe0005,
  UPDATE_RSSIDT: 0xcafe0006,
  UPDATE_IML: 0xcafe0007,
  UPDATE_PMCFG: 0xcafe0008,
  UPDATE_FEATURE: 0xcafe0009,
  RESERVED1: 0xcafe000a,
  LOAD_PLUGIN: 0xcafe000b,
  RESERVED2: 0xcafe000c,
  RESERVED3: 0xcafe000d,
  SET_COALESCE: 0xcafe000e,
  REGISTER_MEMREGS: 0xcafe000f,
  SET_RSS_FIELDS: 0xcafe0010,
  GET_QUEUE_STATUS: 0xf00d0000,
  GET_STATS: 0xf00d0001,
  GET_LINK: 0xf00d0002,
  GET_PERM_MAC_LO: 0xf00d0003,
  GET_PERM_MAC_HI: 0xf00d0004,
  GET_DID_LO: 0xf00d0005,
  GET_DID_HI: 0xf00d0006,
  GET_DEV_EXTRA_INFO: 0xf00d0007,
  GET_CONF_INTR: 0xf00d0008,
  GET_RESERVED1: 0xf00d0009,
  GET_TXDATA_DESC_SIZE: 0xf00d000a,
  GET_COALESCE: 0xf00d000b,
  GET_RSS_FIELDS: 0xf00d000c,
} as const;

/** First SET command code. */
export const CMD_FIRST_SET = 0xcafe0000;
/** First GET command code. */
export const CMD_FIRST_GET = 0xf00d0000;

/** The name of a command code (`ACTIVATE_DEV`), or its hex value when unknown; for messages and the UI. */
export function commandName(code: number): string {
  for (const [name, value] of Object.entries(CMD)) if (value === code) return name;
  return `0x${(code >>> 0).toString(16)}`;
}

/** True for codes in the SET range (0xCAFExxxx). */
export function isSetCommand(code: number): boolean {
  return code >>> 16 === CMD_FIRST_SET >>> 16;
}

/** True for codes in the GET range (0xF00Dxxxx). */
export function isGetCommand(code: number): boolean {
  return code >>> 16 === CMD_FIRST_GET >>> 16;
}

/** RX filter mode bits (`rxMode` in the driver-shared area). */
export const RX_MODE = {
  /** Frames to the device's own unicast MAC. */
  UCAST: 0x01,
  /** Multicast frames whose group is in the multicast table. */
  MCAST: 0x02,
  /** Broadcast frames. */
  BCAST: 0x04,
  /** Every multicast frame. */
  ALL_MULTI: 0x08,
  /** Everything, VLAN filter included. */
  PROMISC: 0x10,
} as const;

/** Every defined rxMode bit. */
export const RX_MODE_ALL = 0x1f;

/** UPT1 feature bits (`features` in the driver-shared area). */
export const FEATURE = {
  /** RX checksum verification. */
  RXCSUM: 0x01,
  /** Receive-side scaling. */
  RSS: 0x02,
  /** VLAN tag stripping on receive. */
  RXVLAN: 0x04,
  /** Large receive offload. */
  LRO: 0x08,
  /** Inner (GENEVE/VXLAN) checksum offload on receive. */
  RXINNEROFLD: 0x10,
} as const;

/** Every feature bit this model knows. */
export const FEATURE_ALL = 0x1f;

/** Event Cause Register bits. */
export const ECR = {
  /** An RX queue hit an error and stopped. */
  RQERR: 0x01,
  /** A TX queue hit an error and stopped. */
  TQERR: 0x02,
  /** The link state changed. */
  LINK: 0x04,
  /** Device implementation change. */
  DIC: 0x08,
  /** Debug event. */
  DEBUG: 0x10,
} as const;

/** Magic value at the start of the driver-shared area (`VMXNET3_REV1_MAGIC`). */
export const SHARED_MAGIC = 0xbabefee1;

/** Smallest MTU the device accepts. */
export const MIN_MTU = 60;
/** Largest MTU the device accepts (jumbo frames). */
export const MAX_MTU = 9000;

/** Largest number of TX queues. */
export const MAX_TX_QUEUES = 8;
/** Largest number of RX queues. */
export const MAX_RX_QUEUES = 16;
/** Largest number of interrupt vectors: one per queue plus the event vector. */
export const MAX_INTRS = 25;

/** Ring sizes are multiples of 32. */
export const RING_SIZE_ALIGN = 32;
/** Largest TX, TX completion, RX ring 1 and RX ring 2. */
export const RING_MAX_SIZE = 4096;
/** Largest RX completion ring: it holds the completions of both RX rings. */
export const RX_COMP_RING_MAX_SIZE = 8192;

/** Largest Ethernet header the device accounts for in a receive buffer (two VLAN tags). */
export const MAX_ETH_HDR_SIZE = 22;

/** The VLAN filter table: 4096 bits in 128 32-bit words; bit `vid` set admits that VLAN (VID 0 = untagged). */
export const VLAN_FILTER_WORDS = 128;

/** Interrupt moderation levels: none, 1..7 increasingly lazy, adaptive. */
export const IML = { NONE: 0, HIGHEST: 7, ADAPTIVE: 8 } as const;

/** Interrupt types reported by GET_CONF_INTR (low 2 bits); the mask mode is in bits 2..3. */
export const INTR_TYPE = { AUTO: 0, INTX: 1, MSI: 2, MSIX: 3 } as const;

/** The vmxnet3 revisions this device implements, as the VRRS bitmap (bit n = revision n + 1): revisions 1 to 7. */
export const SUPPORTED_REVISIONS = 0x7f;
/** The UPT versions this device implements, as the UVRS bitmap: version 1. */
export const SUPPORTED_UPT_VERSIONS = 0x1;

/** PCI vendor id of VMware. */
export const PCI_VENDOR_VMWARE = 0x15ad;
/** PCI device id of vmxnet3. */
export const PCI_DEVICE_VMXNET3 = 0x07b0;

/** Link speed in Mbps reported by an up link. */
export const LINK_SPEED_MBPS = 10_000;
/** GET_LINK's value for a 10 Gb/s link that is up: speed in Mbps in the high 16 bits, bit 0 = up. */
export const LINK_UP_10G = ((LINK_SPEED_MBPS << 16) | 1) >>> 0;

/** Splits a GET_LINK value into its up bit and its speed. */
export function decodeLink(value: number): { up: boolean; speedMbps: number } {
  return { up: (value & 1) === 1, speedMbps: value >>> 16 };
}

/** The BAR0 offset of the mask register of interrupt vector `vector`. */
export function imrRegister(vector: number): number {
  return BAR0.IMR + REG_STRIDE * vector;
}

/** The BAR0 offset of the TX producer register of `queue`. */
export function txprodRegister(queue: number): number {
  return BAR0.TXPROD + REG_STRIDE * queue;
}

/** The BAR0 offset of the RX producer register of ring 1 or 2 of `queue`. */
export function rxprodRegister(queue: number, ring: 1 | 2): number {
  return (ring === 1 ? BAR0.RXPROD : BAR0.RXPROD2) + REG_STRIDE * queue;
}

/** The MACL and MACH values the driver writes for `mac` (little-endian: byte 0 is the low byte of MACL). */
export function macToRegisters(mac: MacAddress): { macl: number; mach: number } {
  const b = parseMac(mac);
  return {
    macl: (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0,
    mach: (b[4]! | (b[5]! << 8)) >>> 0,
  };
}

/** The MAC address held in MACL and MACH (or in GET_PERM_MAC_LO and _HI). */
export function macFromRegisters(macl: number, mach: number): MacAddress {
  const b = new Uint8Array(6);
  b[0] = macl & 0xff;
  b[1] = (macl >>> 8) & 0xff;
  b[2] = (macl >>> 16) & 0xff;
  b[3] = (macl >>> 24) & 0xff;
  b[4] = mach & 0xff;
  b[5] = (mach >>> 8) & 0xff;
  return formatMac(b);
}

/** True when `value` is an integer a 32-bit register can hold. */
export function isRegisterValue(value: number): boolean {
  return Number.isInteger(value) && value >= 0 && value <= 0xffffffff;
}
