import { randomBytes, timingSafeEqual } from 'node:crypto';
import { Reply, type Socket } from 'zeromq';

/**
 * Only a run's own processes talk on its sockets. Every run has a random token; the controller
 * gives it to each node process in its environment (never on the command line, which any user
 * can read). Every socket that binds (the controller's ROUTER, the `a` end of each wire) requires
 * the ZeroMQ PLAIN mechanism, and this process's ZAP handler (ZeroMQ's authentication protocol)
 * accepts a connection only when it presents the run's token: the check happens once per
 * connection, before any message passes, so it costs nothing per frame. A stranger that connects
 * without it (a NULL handshake) or with a wrong token is refused at the handshake, never reaches
 * the node's code, and does not take the peer's place on a PAIR socket. Every refusal is counted
 * and logged by the socket that refused it.
 */

/** The environment variable that carries the run's token to a node process. */
export const RUN_TOKEN_ENV = 'DPULAB_RUN_TOKEN';

/** The ZAP domain of dpulab's sockets. */
const ZAP_DOMAIN = 'dpulab';
/** The user name the PLAIN mechanism sends; the token is the password. */
const PLAIN_USER = 'dpulab';

/** A new random run token. */
export function newRunToken(): string {
  return randomBytes(32).toString('base64url');
}

/** Options of a socket that binds: it asks every peer for the run's token. */
export function bindingSocketOptions(): { plainServer: true; zapDomain: string } {
  return { plainServer: true, zapDomain: ZAP_DOMAIN };
}

/** Options of a socket that connects: it presents the run's token. */
export function connectingSocketOptions(token: string): { plainUsername: string; plainPassword: string } {
  return { plainUsername: PLAIN_USER, plainPassword: token };
}

/**
 * The process's ZAP handler, shared by every run in the process (ZeroMQ allows one per
 * context): it accepts the tokens of the runs that hold it.
 */
class ZapHandler {
  private readonly tokens = new Map<string, number>();
  private socket: Reply | null = null;
  private serving: Promise<void> | null = null;

  async hold(token: string): Promise<void> {
    this.tokens.set(token, (this.tokens.get(token) ?? 0) + 1);
    if (this.socket !== null) return;
    const socket = new Reply({ linger: 0 });
    this.socket = socket;
    await socket.bind('inproc://zeromq.zap.01');
    this.serving = this.serve(socket);
  }

  release(token: string): void {
    const count = (this.tokens.get(token) ?? 0) - 1;
    if (count > 0) this.tokens.set(token, count);
    else this.tokens.delete(token);
    if (this.tokens.size === 0 && this.socket !== null) {
      this.socket.close();
      this.socket = null;
      void this.serving?.catch(() => undefined);
      this.serving = null;
    }
  }

  private accepts(mechanism: string, user: Buffer | undefined, password: Buffer | undefined): boolean {
    if (mechanism !== 'PLAIN' || user?.toString() !== PLAIN_USER || password === undefined) return false;
    for (const token of this.tokens.keys()) {
      const expected = Buffer.from(token);
      if (expected.length === password.length && timingSafeEqual(expected, password)) return true;
    }
    return false;
  }

  private async serve(socket: Reply): Promise<void> {
    try {
      for await (const request of socket) {
        // ZAP 1.0 (RFC 27): version, request id, domain, address, identity, mechanism, credentials.
        const [version, requestId, domain, , , mechanism, user, password] = request;
        const ok = domain?.toString() === ZAP_DOMAIN && this.accepts(mechanism?.toString() ?? '', user, password);
        await socket.send([version ?? '1.0', requestId ?? '', ok ? '200' : '400', ok ? 'OK' : 'Not a process of this run', '', '']);
      }
    } catch {
      // Closed when the last run let go.
    }
  }
}

const zap = new ZapHandler();

/** Starts accepting connections that present `token`; `releaseRunToken` when the run ends. */
export function holdRunToken(token: string): Promise<void> {
  return zap.hold(token);
}

/** Stops accepting `token` (and stops the handler when no run holds one). */
export function releaseRunToken(token: string): void {
  zap.release(token);
}

/**
 * Counts the connections a binding socket refused at the handshake (no token, a wrong one),
 * calling `onRefused` with the running count and what was refused.
 */
export function watchRefusals(socket: Socket, onRefused: (count: number, what: string) => void): void {
  let count = 0;
  void (async () => {
    try {
      for await (const event of socket.events) {
        if (event.type === 'handshake:error:auth' || event.type === 'handshake:error:protocol' || event.type === 'handshake:error:other') {
          count++;
          onRefused(count, `${event.type.slice('handshake:error:'.length)} error from a peer at ${'address' in event ? event.address : '?'}`);
        }
      }
    } catch {
      // The socket closed.
    }
  })();
}
