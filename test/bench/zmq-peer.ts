/**
 * The far end of the raw ZeroMQ floors, run as its own OS process by the benchmark:
 * `node zmq-peer.js ENDPOINT COUNT` or `node zmq-peer.js ENDPOINT echo`.
 *
 * It connects a PAIR socket to ENDPOINT and says `hello` so the sender knows the connection is
 * up. With a COUNT it counts that many messages and answers with a JSON acknowledgement
 * `{ count, bytes }`; with `echo` it sends every message straight back (the round-trip floor).
 * Then it waits for its stdin to close (the parent holds it), so that no answer is lost to a
 * socket closed too early. Like a dpulab node, it exits as soon as its parent goes away.
 */
import { Pair } from 'zeromq';

const [endpoint, countText] = process.argv.slice(2);
const echo = countText === 'echo';
const expected = Number(countText);
if (endpoint === undefined || (!echo && (!Number.isSafeInteger(expected) || expected < 1))) {
  process.stderr.write('Usage: zmq-peer.js ENDPOINT COUNT|echo\n');
  process.exit(2);
}

const socket = new Pair({ linger: 0, sendHighWaterMark: 0, receiveHighWaterMark: 0 });

/** Closes the socket and leaves; the parent closing our stdin is the signal. */
function leave(): void {
  socket.close();
  process.exit(0);
}
process.stdin.on('end', leave);
process.stdin.on('close', leave);
process.stdin.on('error', leave);
process.stdin.resume();

/** Receives and counts the expected messages, then acknowledges them. */
async function serve(): Promise<void> {
  socket.connect(endpoint!);
  await socket.send('hello');
  if (echo) {
    // No timeouts and no queue: the plainest request/reply zeromq.js offers, the floor itself.
    for (;;) await socket.send(await socket.receive());
  }
  let count = 0;
  let bytes = 0;
  while (count < expected) {
    const [message] = await socket.receive();
    count += 1;
    bytes += message?.length ?? 0;
  }
  await socket.send(JSON.stringify({ count, bytes }));
}

serve().catch((error: unknown) => {
  process.stderr.write(`zmq-peer: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
