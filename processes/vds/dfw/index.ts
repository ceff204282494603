/**
 * The distributed firewall (NSX semantics): rules, per-vNIC stateful filters, connection
 * tracking with NSX's timeouts, reject answers, and the export that moves with a VM on vMotion.
 */
export { DistributedFirewall } from './firewall.js';
export type { DfwImportSummary, DfwOptions, DfwVerdict, RuleCounterView, VnicCounters, VnicFilterView } from './firewall.js';
export { ANY_SERVICE, compareRules, DFW_DEFAULT_RULE_ID } from './rule.js';
export type { DfwAction, DfwPacketDirection, DfwPortRange, DfwProtocol, DfwRule, DfwRuleDirection, DfwService, VnicIdentity } from './rule.js';
export { DEFAULT_DFW_TIMEOUTS, ICMP_STATES, TCP_STATES, UDP_STATES } from './conntrack.js';
export type { ConnectionState, ConnectionTuple, ConnectionView, DfwTimeouts, IcmpState, TcpState, UdpState } from './conntrack.js';
export { DFW_EXPORT_VERSION, parseDfwExport } from './export.js';
export type { DfwExport, DfwExportedConnection } from './export.js';
export { DfwImportError, DfwRuleError, DfwVnicError } from './errors.js';
export type { DfwImportErrorCode, DfwRuleErrorCode } from './errors.js';
export type { PacketProtocol } from './packet.js';
export type { RejectReplyKind, RejectSilenceReason } from './reject.js';
