/**
 * Flow specs as the guest takes them: the schema and the limits live with the actions
 * (`shared/actions/flow.ts`), so the guest refuses exactly what the scenario loader, the UI and
 * the controller refuse. Here they become the guest's own error, naming the field.
 */
import { CodedError } from '../../../shared/errors.js';
import { addressedFlowSpecSchema, resolveFlowDefaults } from '../../../shared/actions/flow.js';
import type { ResolvedFlowSpec } from '../../../shared/actions/flow.js';
import { checkWithSchema, formatPath } from '../../../shared/topology/yaml-source.js';

export { DEFAULT_TCP_PORT, DEFAULT_UDP_PORT, FLOW_KINDS } from '../../../shared/actions/flow.js';
export type { FlowKind, ResolvedFlowSpec } from '../../../shared/actions/flow.js';

/** Why a flow request was refused. */
export type FlowErrorCode = 'bad-flow-spec' | 'wrong-vm' | 'duplicate-flow' | 'unknown-flow';

/** A flow could not be started or stopped; `code` is stable, the message names the field. */
export class FlowError extends CodedError<FlowErrorCode> {
  override readonly name = 'FlowError';
  /** The flow id, when it was readable. */
  readonly flow: string | null;

  constructor(code: FlowErrorCode, flow: string | null, message: string) {
    super(code, message);
    this.flow = flow;
  }
}

/**
 * Validates a flow spec given as untyped data (a restored sender's spec, a flow a host was asked
 * to start) and fills in the defaults. Throws FlowError('bad-flow-spec') naming the first wrong field.
 */
export function resolveFlowSpec(input: unknown): ResolvedFlowSpec {
  const checked = checkWithSchema(addressedFlowSpecSchema, input);
  if (checked.ok) return resolveFlowDefaults(checked.value);
  const id = typeof input === 'object' && input !== null && typeof (input as { id?: unknown }).id === 'string' ? (input as { id: string }).id : null;
  const first = checked.problems[0]!;
  const field = first.path.length > 0 ? `${formatPath(first.path)}: ` : '';
  throw new FlowError('bad-flow-spec', id, `Flow ${id ?? '(no id)'}: ${field}${first.message}`);
}
