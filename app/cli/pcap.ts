import { writeFileSync } from 'node:fs';
import { exportVnicPcapng, exportWirePcapng } from '../../processes/controller/pcap-export.js';
import { CliError } from './errors.js';

interface PcapFlags {
  wire?: string;
  vnic?: string;
  output: string;
}

/** `dpulab pcap DB (--wire ID | --vnic ID) -o FILE`: a wire's traffic, or what a guest sent and received. */
export async function pcapCommand(db: string, flags: PcapFlags): Promise<void> {
  if ((flags.wire === undefined) === (flags.vnic === undefined)) throw new CliError('Give --wire ID or --vnic ID (one of them)');
  if (flags.vnic !== undefined) {
    const result = exportVnicPcapng(db, flags.vnic);
    writeFileSync(flags.output, result.bytes);
    const via = result.wires.length > 0 ? ` (dma channel of ${result.wires.join(', ')})` : '';
    process.stderr.write(`dpulab pcap: ${result.sent} frames sent and ${result.received} received by vNIC ${flags.vnic} written to ${flags.output}${via}\n`);
    return;
  }
  const result = exportWirePcapng(db, flags.wire!);
  writeFileSync(flags.output, result.bytes);
  const skipped = result.skipped > 0 ? `, ${result.skipped} device-channel messages left out (not Ethernet; a guest's frames: --vnic)` : '';
  process.stderr.write(`dpulab pcap: ${result.packets} frames of wire ${flags.wire} written to ${flags.output} (${result.interfaces.join(', ')})${skipped}\n`);
}
