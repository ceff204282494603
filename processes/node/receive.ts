import type { Readable } from 'zeromq';

/**
 * How often a waiting receive looks at its socket again. zeromq.js wakes a pending receive on
 * an edge of the socket's notification descriptor, and now and then that edge is lost: the
 * message sits in the socket (`readable` is true) while the receive waits for ever. A receive
 * that times out and starts again reads the socket directly, so a lost edge costs at most this
 * long instead of the run.
 */
export const RECHECK_MS = 100;

type ReceivingSocket = Readable & { receiveTimeout: number; readonly closed: boolean };

/**
 * Every message of a socket, in order, until it is closed: a drop-in for `for await (... of
 * socket)` that survives a lost wake-up (see {@link RECHECK_MS}).
 */
export async function* messages(socket: ReceivingSocket, recheckMs = RECHECK_MS): AsyncGenerator<Buffer[]> {
  socket.receiveTimeout = recheckMs;
  while (!socket.closed) {
    try {
      yield await socket.receive();
    } catch (error) {
      // A timeout (or a close while waiting) says EAGAIN: look again, or stop when closed.
      if ((error as { code?: string }).code !== 'EAGAIN') throw error;
    }
  }
}

/**
 * Hands every message of a socket to `onMessage`, in order, until the socket is closed; resolves
 * then. The same lost-wake-up guard as {@link messages}, without an async generator: a message
 * costs zeromq.js's own receive and nothing more, and the handler runs before the next receive.
 */
export async function receiveEach(socket: ReceivingSocket, onMessage: (parts: Buffer[]) => void, recheckMs = RECHECK_MS): Promise<void> {
  socket.receiveTimeout = recheckMs;
  while (!socket.closed) {
    let parts: Buffer[];
    try {
      parts = await socket.receive();
    } catch (error) {
      if ((error as { code?: string }).code !== 'EAGAIN') throw error;
      continue;
    }
    onMessage(parts);
  }
}
