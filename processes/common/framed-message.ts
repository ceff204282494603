import type { z } from 'zod';
import { decode, encode } from '../../shared/codec.js';

/**
 * A control protocol carried in UDP datagrams between nodes (management, HA state sync): four
 * ASCII magic bytes, one version byte, then a msgpack body a zod schema validates. Decoding checks
 * all of it and throws the protocol's own error, naming what is wrong; a node counts that as a
 * malformed frame and carries on.
 */
export class FramedMessageFormat<S extends z.ZodType> {
  private readonly magic: Uint8Array;
  private readonly headerLength: number;

  constructor(
    private readonly spec: {
      /** How messages name the protocol: `Sync`, `Management`. */
      readonly what: string;
      /** Four ASCII characters that start every payload. */
      readonly magic: string;
      readonly version: number;
      readonly schema: S;
      readonly error: (message: string) => Error;
    },
  ) {
    this.magic = new TextEncoder().encode(spec.magic);
    this.headerLength = this.magic.length + 1;
  }

  /** The UDP payload of a message (not validated: the protocol's typed encoder builds it from typed data). */
  encode(message: unknown): Uint8Array {
    const body = encode(message);
    const out = new Uint8Array(this.headerLength + body.length);
    out.set(this.magic, 0);
    out[this.magic.length] = this.spec.version;
    out.set(body, this.headerLength);
    return out;
  }

  /** The message a UDP payload carries; throws the protocol's error naming what is wrong. */
  decode(payload: Uint8Array): z.output<S> {
    const { what, magic, version, schema, error } = this.spec;
    if (payload.length < this.headerLength || this.magic.some((b, i) => payload[i] !== b)) throw error(`${what} payload of ${payload.length} bytes does not start with ${magic}`);
    const got = payload[this.magic.length]!;
    if (got !== version) throw error(`${what} payload version ${got} is not supported; this side reads version ${version}`);
    let raw: unknown;
    try {
      raw = decode(payload.subarray(this.headerLength));
    } catch {
      throw error(`${what} payload of ${payload.length} bytes is not msgpack`);
    }
    const parsed = schema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw error(`${what} message field ${issue.path.join('.') || '(root)'}: ${issue.message}`);
    }
    return parsed.data;
  }
}
