/**
 * What the active DPU tells its standby: records of state, each one self-contained plain data.
 *
 * - `reset`: forget everything; the first record of every bulk (a full snapshot follows).
 * - `rules`: the management plane's firewall rule set in force and its generation.
 * - `vnic`: a vNIC's filter: its identity and the rules applied to it (sent when new or changed).
 * - `conntrack`: connection-table changes of one vNIC: upserts as a firewall export fragment (the
 *   DFW's own export format, so the standby validates and later imports it with the DFW's code),
 *   and deletions as tuples.
 * - `vnic-gone`: a vNIC's filter was removed on the active.
 * - `mac`: a learned MAC-table entry of the switch (`location` null: forgotten or aged out).
 *
 * Records are validated on receipt like everything from a wire (`parseSyncRecord`).
 */
import { z } from 'zod';
import type { ConnectionTuple } from '../../vds/dfw/conntrack.js';
import { DfwImportError } from '../../vds/dfw/errors.js';
import { DFW_EXPORT_VERSION, parseDfwExport } from '../../vds/dfw/export.js';
import type { DfwExport } from '../../vds/dfw/export.js';
import type { DfwRule, VnicIdentity } from '../../vds/dfw/rule.js';
import type { MacLocation } from '../../vds/switching/mac-learning.js';
import { SyncMessageError } from './errors.js';

/** Forget everything: a full snapshot follows. */
export interface ResetRecord {
  readonly kind: 'reset';
}

/** The management plane's rule set in force on the active DPU (the default rule excluded). */
export interface RulesRecord {
  readonly kind: 'rules';
  readonly generation: number;
  readonly rules: readonly DfwRule[];
}

/** A vNIC's filter: identity and applied rules (its connections come in `conntrack` records). */
export interface VnicRecord {
  readonly kind: 'vnic';
  readonly vnic: string;
  readonly identity: VnicIdentity;
  readonly rules: readonly DfwRule[];
}

/**
 * Connection-table changes of one vNIC: `fragment.connections` are upserts (with the idle time
 * they had left when captured); `deleted` are connections that expired or were removed.
 * `fragment.rules` is always empty here (rules travel in `vnic` records).
 */
export interface ConntrackRecord {
  readonly kind: 'conntrack';
  readonly vnic: string;
  readonly fragment: DfwExport;
  readonly deleted: readonly ConnectionTuple[];
}

/** A vNIC's filter is gone from the active DPU. */
export interface VnicGoneRecord {
  readonly kind: 'vnic-gone';
  readonly vnic: string;
}

/** A learned MAC-table entry of the active DPU's switch; `location` null: forgotten. */
export interface MacRecord {
  readonly kind: 'mac';
  readonly segment: string;
  readonly mac: string;
  readonly location: MacLocation | null;
}

/** One unit of replicated state. */
export type SyncRecord = ResetRecord | RulesRecord | VnicRecord | ConntrackRecord | VnicGoneRecord | MacRecord;

const text = z.string().min(1);
const locationSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('vnic'), vnic: text }),
  z.object({ kind: z.literal('tep'), tep: text }),
  z.object({ kind: z.literal('uplink'), port: text }),
]);

const port = z.number().int().min(0).max(0xffff);
const tupleSchema = z.object({ protocol: text, src: text, srcPort: port, dst: text, dstPort: port });

const recordSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('reset') }),
  z.object({ kind: z.literal('rules'), generation: z.number().int().min(0), rules: z.array(z.unknown()) }),
  z.object({ kind: z.literal('vnic'), vnic: text, identity: z.unknown(), rules: z.array(z.unknown()) }),
  z.object({ kind: z.literal('conntrack'), vnic: text, fragment: z.unknown(), deleted: z.array(tupleSchema) }),
  z.object({ kind: z.literal('vnic-gone'), vnic: text }),
  z.object({ kind: z.literal('mac'), segment: text, mac: text, location: locationSchema.nullable() }),
]);

/** The identity a rules-only export is wrapped in, to validate rules with the firewall's own import checks. */
const NO_VNIC: VnicIdentity = { vnic: '-', vm: '-', mac: '-', ipv4: null, ipv6: null };

/** Validates with the firewall's import checks; their refusal becomes a sync-message refusal. */
function viaExport(blob: unknown, what: string): DfwExport {
  try {
    return parseDfwExport(blob);
  } catch (error) {
    if (error instanceof DfwImportError) throw new SyncMessageError(`Sync ${what}: ${error.message}`);
    throw error;
  }
}

/** Checks a received record and returns it typed; throws `SyncMessageError` naming what is wrong. */
export function parseSyncRecord(raw: unknown, index: number): SyncRecord {
  const parsed = recordSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new SyncMessageError(`Sync record ${index} field ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  const r = parsed.data;
  switch (r.kind) {
    case 'reset':
    case 'vnic-gone':
      return r;
    case 'mac':
      return { kind: 'mac', segment: r.segment, mac: r.mac, location: r.location };
    case 'rules': {
      const checked = viaExport({ version: DFW_EXPORT_VERSION, vnic: NO_VNIC.vnic, identity: NO_VNIC, rules: r.rules, connections: [] }, `record ${index} (rules)`);
      return { kind: 'rules', generation: r.generation, rules: checked.rules };
    }
    case 'vnic': {
      const checked = viaExport({ version: DFW_EXPORT_VERSION, vnic: r.vnic, identity: r.identity, rules: r.rules, connections: [] }, `record ${index} (vnic ${r.vnic})`);
      return { kind: 'vnic', vnic: r.vnic, identity: checked.identity, rules: checked.rules };
    }
    case 'conntrack': {
      const fragment = viaExport(r.fragment, `record ${index} (conntrack of ${r.vnic})`);
      if (fragment.vnic !== r.vnic) throw new SyncMessageError(`Sync record ${index}: a conntrack fragment of ${fragment.vnic} filed under ${r.vnic}`);
      const deleted = r.deleted as ConnectionTuple[];
      return { kind: 'conntrack', vnic: r.vnic, fragment, deleted };
    }
  }
}
