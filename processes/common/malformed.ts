import { FrameError } from '../../shared/net/errors.js';
import type { NodeContext } from '../runtime/types.js';

/**
 * Counts frames dropped because they could not be decoded, by reason. A malformed frame on a
 * wire is dropped, counted and recorded (`frame.malformed`); the node keeps running.
 */
export class MalformedCounter {
  private readonly byReason = new Map<string, number>();

  /** Records a decode failure; rethrows anything that is not a FrameError (a bug, not bad input). */
  record(ctx: NodeContext, port: string, error: unknown): void {
    if (!(error instanceof FrameError)) throw error;
    this.byReason.set(error.code, (this.byReason.get(error.code) ?? 0) + 1);
    ctx.emit('frame.malformed', { port, code: error.code, offset: error.offset, message: error.message });
  }

  /** Counts by reason, sorted, for inspectors. */
  counts(): Record<string, number> {
    return Object.fromEntries([...this.byReason].sort(([a], [b]) => (a < b ? -1 : 1)));
  }
}
