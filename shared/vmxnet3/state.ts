/**
 * Plain-data shapes of the vmxnet3 model: the driver-shared area the guest writes, the device's
 * state (the hand-off copy) and the guest driver's view of the same rings.
 *
 * Everything here is JSON and msgpack data: numbers, strings, booleans, arrays, plain objects and
 * null. No Map, no typed array, no undefined. A snapshot travels in a mailbox message, is hashed
 * into the run's fingerprint and is shown by the UI inspector as is.
 */
import type { MacAddress } from '../net/mac.js';
import type { RssConf } from './rss.js';

/** A descriptor's generation bit. Rings start at 1 and flip on every wrap. */
export type Gen = 0 | 1;

/** One of the two RX rings of a queue: 1 holds ordinary buffers, 2 large ones (see CONTEXT.md). */
export type RxRingId = 1 | 2;

/** A position on a ring: the slot index and the generation bit that goes with it. */
export interface RingPosition {
  next: number;
  gen: Gen;
}

/** A ring and a position on it: whose position depends on who holds it (see each use). */
export interface RingState extends RingPosition {
  /** Number of descriptors, a multiple of 32. */
  size: number;
}

// ---------------------------------------------------------------------------------------------
// The driver-shared area (guest memory, pointed to by DSAL/DSAH)

/** Configuration of one TX queue in the driver-shared area. */
export interface TxQueueConf {
  ringSize: number;
  compRingSize: number;
  /** Interrupt vector of the queue's completions. */
  intrIdx: number;
}

/** Configuration of one RX queue in the driver-shared area. */
export interface RxQueueConf {
  ring1Size: number;
  ring2Size: number;
  compRingSize: number;
  /** Bytes in each ring 1 buffer. */
  ring1BufferLength: number;
  /** Bytes in each ring 2 buffer. */
  ring2BufferLength: number;
  intrIdx: number;
}

/** Interrupt configuration in the driver-shared area. */
export interface InterruptConf {
  /** The device masks a vector when it fires; the driver unmasks it (IMR write 0) when done. */
  autoMask: boolean;
  numIntrs: number;
  /** Vector of device events (ECR). */
  eventIntrIdx: number;
  /** Moderation level per vector (IML.NONE..IML.ADAPTIVE). */
  modLevels: number[];
}

/** RX filters in the driver-shared area. */
export interface RxFilterConf {
  /** RX_MODE bits. */
  rxMode: number;
  /** Multicast groups admitted with RX_MODE.MCAST, canonical MAC text. */
  multicast: MacAddress[];
  /** 128 words of 32 bits: bit `vid` admits VLAN `vid`; VID 0 stands for untagged frames. */
  vlanFilter: number[];
}

/**
 * The driver-shared area: what the guest driver writes in its own memory for the device to read
 * on ACTIVATE and the UPDATE commands.
 */
export interface DriverShared {
  /** SHARED_MAGIC. */
  magic: number;
  /** The guest driver's major version (UPTv2 needs 7 or later). */
  driverVersion: number;
  /** The vmxnet3 revision the driver selected (1..7). */
  revision: number;
  /** The UPT version the driver selected (1). */
  uptVersion: number;
  mtu: number;
  /** FEATURE bits. */
  features: number;
  numTxQueues: number;
  numRxQueues: number;
  txQueues: TxQueueConf[];
  rxQueues: RxQueueConf[];
  intr: InterruptConf;
  rxFilter: RxFilterConf;
  /** Receive-side scaling (UPT1_RSSConf, `rss.ts`) when the driver enabled FEATURE.RSS, else null. */
  rss: RssConf | null;
}

// ---------------------------------------------------------------------------------------------
// The device

/** BAR1 registers that hold values of their own (IMR, ICR and the producers live elsewhere in the state). */
export interface Vmxnet3Registers {
  /** Revision bit the driver selected (0 until it writes one). */
  vrrs: number;
  /** UPT version bit the driver selected. */
  uvrs: number;
  dsal: number;
  dsah: number;
  /** Last command code written. */
  cmd: number;
  /** What a read of CMD returns: the result of the last command. */
  cmdResult: number;
  macl: number;
  mach: number;
  /** Event causes not yet acknowledged by the driver. */
  ecr: number;
  dcr: number[];
  ptcr: number[];
}

/**
 * A command ring (TX, RX ring 1 or 2) as the device sees it. `next`/`gen` is the device's
 * consumer: the next descriptor it will read and the generation bit it expects there. `produced`
 * is the producer position the driver announced through its doorbell.
 */
export interface DeviceCommandRing extends RingState {
  produced: RingPosition;
}

/** An RX ring on the device side, with the length of its buffers. */
export interface DeviceRxRing extends DeviceCommandRing {
  bufferLength: number;
}

/** One TX queue on the device side. */
export interface TxQueueState {
  /** Consumer position and the announced producer position. */
  txRing: DeviceCommandRing;
  /** The next descriptor whose completion the device has not written yet (between the driver's reclaim point and the consumer). */
  completed: RingPosition;
  /** The TX completion ring: the slot the device writes next and the generation bit it writes. */
  compRing: RingState;
  intrIdx: number;
  /** The queue stopped after an error (bad generation bit); only RESET or ACTIVATE restart it. */
  stopped: boolean;
}

/** One RX queue on the device side. */
export interface RxQueueState {
  ring1: DeviceRxRing;
  ring2: DeviceRxRing;
  /** The RX completion ring: the slot the device writes next and the generation bit it writes. */
  compRing: RingState;
  intrIdx: number;
  stopped: boolean;
}

/** The filters, features and moderation the device applies: the shared area as of the last ACTIVATE/UPDATE. */
export interface AppliedConfig {
  mtu: number;
  features: number;
  rxMode: number;
  multicast: MacAddress[];
  vlanFilter: number[];
  modLevels: number[];
  /** The RSS configuration as of the last ACTIVATE or UPDATE_RSSIDT; null without RSS. */
  rss: RssConf | null;
}

/** Interrupt state: vectors as bits. */
export interface InterruptState {
  autoMask: boolean;
  numIntrs: number;
  eventIntrIdx: number;
  /** Masked vectors (IMR non-zero). */
  mask: number;
  /** Vectors with an event that has not been signalled yet because they were masked (what ICR reads). */
  pending: number;
  /** Interrupts signalled to the guest since power-on. */
  fired: number;
}

/** Why a received frame did not reach the guest. */
export type RxDropReason = 'no-buffer' | 'filtered' | 'quiesced' | 'inactive' | 'too-long';

/** Every RX drop reason, in a fixed order (counters and the UI list them this way). */
export const RX_DROP_REASONS: readonly RxDropReason[] = ['no-buffer', 'filtered', 'quiesced', 'inactive', 'too-long'];

/** Device counters since power-on (they survive RESET and move with a hand-off). */
export interface DeviceCounters {
  txFrames: number;
  txBytes: number;
  txCompletions: number;
  rxFrames: number;
  rxBytes: number;
  rxDrops: Record<RxDropReason, number>;
}

/**
 * What the guest has done to the device: `reset` (never activated, or RESET_DEV), `active`
 * (ACTIVATE_DEV), `quiesced` (QUIESCE_DEV, before the driver tears its rings down).
 */
export type DeviceStatus = 'reset' | 'active' | 'quiesced';

/** Version of the snapshot format; `restore` refuses any other. */
export const DEVICE_STATE_VERSION = 1;

/**
 * The whole device: the hand-off copy. The rings themselves live in guest memory and move with
 * the VM; this is everything else the next device needs to carry on where this one stopped.
 */
export interface Vmxnet3DeviceState {
  format: 'vmxnet3-device';
  version: number;
  permanentMac: MacAddress;
  status: DeviceStatus;
  /**
   * The hypervisor drained the device's DMA (completed every descriptor it had consumed) and stopped
   * it, for a hand-off. Invisible to the guest, which still believes the device is active.
   */
  drained: boolean;
  registers: Vmxnet3Registers;
  /** GET_LINK's value (LINK_UP_10G when up, 0 when down). */
  link: number;
  /** The driver-shared area as the device last read it, null before the first read. */
  shared: DriverShared | null;
  /** What the device applies, null until ACTIVATE. */
  config: AppliedConfig | null;
  interrupts: InterruptState;
  txQueues: TxQueueState[];
  rxQueues: RxQueueState[];
  counters: DeviceCounters;
}

// ---------------------------------------------------------------------------------------------
// The guest driver

/**
 * A command ring as the guest driver sees it. `next`/`gen` is the driver's producer: the next slot
 * it fills and the generation bit it writes there. `reclaimed` is the oldest slot it has not got
 * back yet (TX: not completed; RX: buffer not returned with a frame).
 */
export interface DriverCommandRing extends RingState {
  reclaimed: RingPosition;
}

/** An RX ring on the driver side, with the length of the buffers the driver posts. */
export interface DriverRxRing extends DriverCommandRing {
  bufferLength: number;
}

/** One TX queue as the guest driver believes it is. */
export interface DriverTxQueueView {
  txRing: DriverCommandRing;
  /** The next completion slot the driver reads and the generation bit it expects there. */
  compRing: RingState;
}

/** One RX queue as the guest driver believes it is. */
export interface DriverRxQueueView {
  ring1: DriverRxRing;
  ring2: DriverRxRing;
  compRing: RingState;
}

/** What the guest driver believes about its device: compared with the device after every hand-off. */
export interface Vmxnet3DriverView {
  probed: boolean;
  /** The driver activated the device and has not quiesced or reset it. */
  active: boolean;
  /** The MAC the driver programmed into MACL/MACH. */
  mac: MacAddress;
  /** The last GET_LINK value the driver read, null before the first. */
  link: number | null;
  /** The driver-shared area as the driver wrote it. */
  shared: DriverShared | null;
  txQueues: DriverTxQueueView[];
  rxQueues: DriverRxQueueView[];
}

/** Version of the driver state format; `Vmxnet3Driver.restore` refuses any other. */
export const DRIVER_STATE_VERSION = 1;

/**
 * The guest driver's whole state, as it moves with the VM's memory (vMotion): the view plus the
 * guest-physical address of the driver-shared area, which only its activation writes use.
 */
export interface Vmxnet3DriverState extends Vmxnet3DriverView {
  format: 'vmxnet3-driver';
  version: number;
  /** Guest-physical address of the driver-shared area (DSAL/DSAH). */
  sharedAddress: number;
}
