import { writeFileSync } from 'node:fs';
import { exportWirePcapng } from '../../processes/controller/pcap-export.js';

interface PcapFlags {
  wire: string;
  output: string;
}

export async function pcapCommand(db: string, flags: PcapFlags): Promise<void> {
  const result = exportWirePcapng(db, flags.wire);
  writeFileSync(flags.output, result.bytes);
  const skipped = result.skipped > 0 ? `, ${result.skipped} device-channel messages left out (not Ethernet)` : '';
  process.stderr.write(`dpulab pcap: ${result.packets} frames of wire ${flags.wire} written to ${flags.output} (${result.interfaces.join(', ')})${skipped}\n`);
}
