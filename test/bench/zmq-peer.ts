/**
 * The receiving end of the raw ZeroMQ benchmark, run as its own OS process by `bench.ts`:
 * `node zmq-peer.js ENDPOINT COUNT`.
 *
 * It connects a PAIR socket to ENDPOINT, says `hello` so the sender knows the connection is up,
 * counts COUNT messages, answers with a JSON acknowledgement `{ count, bytes }`, and then waits
 * for its stdin to close (the parent holds it), so that the acknowledgement is never lost to a
 * socket closed too early. Like a dpulab node, it exits as soon as its parent goes away.
 */
import { Pair } from 'zeromq';

const [endpoint, countText] = process.argv.slice(2);
const expected = Number(countText);
if (endpoint === undefined || !Number.isSafeInteger(expected) || expected < 1) {
  process.stderr.write('Usage: zmq-peer.js ENDPOINT COUNT\n');
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
