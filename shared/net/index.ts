/**
 * The byte-level frame library: addresses, checksums, per-protocol encoders and decoders, the
 * layered frame decoder, whole-frame builders and a pcapng writer. Pure TypeScript over
 * Uint8Array, so it runs unchanged in node processes and in the browser UI.
 */
export * from './errors.js';
export * from './bytes.js';
export * from './hash.js';
export * from './mac.js';
export * from './ip.js';
export * from './checksum.js';
export * from './ethernet.js';
export * from './arp.js';
export * from './ipv4.js';
export * from './ipv6.js';
export * from './icmp.js';
export * from './icmpv6.js';
export * from './udp.js';
export * from './tcp.js';
export * from './geneve.js';
export * from './lldp.js';
export * from './frame.js';
export * from './flow.js';
export * from './builders.js';
export * from './pcapng.js';
export * from './ipfix.js';
