/**
 * Every event kind dpulab records, with what it means. The recorder copies this table into each
 * database (`event_kinds`), so a log documents itself for tools that did not write it.
 */
export const EVENT_KINDS: Readonly<Record<string, string>> = {
  'node.start': 'The controller started a node (payload: node, kind, incarnation; volatile: pid, mode)',
  'node.exit': 'A node ended (payload: node, incarnation, code, signal, planned, reason)',
  'node.error': 'A node core failed to handle a message and went on (payload: message, while; volatile: stack)',
  'input.link': 'Input: a wire was taken down or brought up (payload: wire, state)',
  'input.kill': 'Input: a node process is killed with SIGKILL (payload: node)',
  'input.note': 'Input: a note on the timeline (payload: text)',
  'frame.tx': 'A frame was put on a wire (payload: wire, dir, port, channel, len, txStart, arrival, fate, bytes)',
  'frame.drop': 'A frame could not be sent or was lost at a down port (payload: port, reason, len)',
  'frame.malformed': 'A received frame could not be decoded and was dropped (payload: port, code, offset, message)',
  'link.state': 'A port saw its wire go up or down (payload: port, wire, up)',
  'lldp.neighbor': 'LLDP learned or changed the neighbour on a port (payload: port, chassisId, portId, systemName, ...)',
  'lldp.expired': 'An LLDP neighbour timed out or its link went down (payload: port, chassisId, systemName)',
  'mac.learn': 'A switch learned a MAC on a port or saw it move (payload: vlan, mac, port, movedFrom)',
  'mac.age': 'A MAC table entry aged out (payload: vlan, mac, port)',
  'dpu.state': 'The host changed its view of a DPU (payload: dpu, state, role, reason)',
  'dpu.heartbeat.miss': 'A DPU did not answer a heartbeat in time (payload: dpu, seq, misses)',
};
