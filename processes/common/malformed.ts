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

  /**
   * Records a frame that decoded but whose payload a protocol refused (a management message that
   * does not parse): counted under `code`, recorded as `frame.malformed` at payload offset 0.
   */
  recordPayload(ctx: NodeContext, port: string, code: string, message: string): void {
    this.byReason.set(code, (this.byReason.get(code) ?? 0) + 1);
    ctx.emit('frame.malformed', { port, code, offset: 0, message });
  }

  /** Counts by reason, sorted, for inspectors. */
  counts(): Record<string, number> {
    return Object.fromEntries([...this.byReason].sort(([a], [b]) => (a < b ? -1 : 1)));
  }
}
