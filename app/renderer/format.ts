/**
 * How the UI writes times, rates and payloads. Every point in virtual time is written one way,
 * by {@link vtime}: virtual seconds with six decimals (`1.234567 s`), the precision at which
 * events a wire's latency apart still read apart; lengths of time (a latency, a downtime) by
 * {@link duration} in the unit that suits them (`987.672 µs`). Payloads as one compact line per
 * event kind.
 */
import { formatDuration, parseDuration } from '../../shared/units.js';
import type { ClusterEvent } from '../../shared/state/cluster-state.js';

/** A point in virtual time, the one way the UI writes it: `12.345678 s` (the clock, lists, axes, captions). */
export function vtime(ns: number): string {
  return `${(ns / 1e9).toFixed(6)} s`;
}

/** A length of virtual time in its own unit: `1.5 s`, `250 ms`, `987.672 µs`, `0 s`. */
export function duration(ns: number): string {
  return ns === 0 ? '0 s' : formatDuration(ns);
}

/** A duration typed by a person (`1.5s`, `200ms`) in ns, or null when it is not one. */
export function parseTime(text: string): number | null {
  const trimmed = text.trim();
  if (trimmed === '') return null;
  try {
    return parseDuration(trimmed);
  } catch {
    return null;
  }
}

/** A rate, rounded for display: `12`, `1.2k`, `3.4M`. */
export function rate(value: number): string {
  if (value >= 1e6) return `${(value / 1e6).toFixed(1)}M`;
  if (value >= 1e4) return `${Math.round(value / 1e3)}k`;
  if (value >= 1e3) return `${(value / 1e3).toFixed(1)}k`;
  return String(Math.round(value));
}

/** A register or counter as hex. */
export function hex32(value: unknown): string {
  return typeof value === 'number' ? `0x${(value >>> 0).toString(16).padStart(8, '0')}` : String(value ?? '');
}

function compact(value: unknown): string {
  if (value === null || value === undefined) return '-';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** One line about an event's payload, shaped by its kind. */
export function eventSummary(event: ClusterEvent): string {
  const p = (event.payload && typeof event.payload === 'object' ? event.payload : {}) as Record<string, unknown>;
  switch (event.kind) {
    case 'frame.tx':
      return `${compact(p.wire)} ${compact(p.dir)} ${compact(p.len)} B ${compact(p.fate)}${p.channel && p.channel !== 'eth' ? ` (${compact(p.channel)})` : ''}`;
    case 'lldp.neighbor':
      return `${compact(p.port)} ← ${compact(p.systemName)} ${compact(p.portId)}`;
    case 'lldp.expired':
      return `${compact(p.port)} lost ${compact(p.systemName)}${p.reason ? ` (${compact(p.reason)})` : ''}`;
    case 'node.start':
      return `${compact(p.node)} (${compact(p.kind)}) incarnation ${compact(p.incarnation)}`;
    case 'node.exit':
      return `${compact(p.node)} ${p.signal ? `killed by ${compact(p.signal)}` : `exit ${compact(p.code)}`}${p.planned ? '' : ' (unplanned)'}${p.reason ? `: ${compact(p.reason)}` : ''}`;
    case 'dpu.state':
      return `${compact(p.dpu)} ${compact(p.state)} ${compact(p.role)} (${compact(p.reason)})`;
    case 'vnic.mode':
      return `${compact(p.vnic)} ${compact(p.active)}${p.requested !== p.active ? ` (asked ${compact(p.requested)}: ${compact(p.reason)})` : ''}`;
    case 'link.state':
      return `${compact(p.port)} ${compact(p.wire)} ${p.up ? 'up' : 'down'}`;
    case 'mac.learn':
      return `vlan ${compact(p.vlan)} ${compact(p.mac)} on ${compact(p.port)}${p.movedFrom ? ` (moved from ${compact(p.movedFrom)})` : ''}`;
    case 'flow.report':
      return `${compact(p.flow)} ${compact(p.side)} sent ${compact(p.sent)} delivered ${compact(p.delivered)}${p.tcpState ? ` ${compact(p.tcpState)}` : ''}${p.final ? ' final' : ''}`;
    case 'vf.state':
      return `vf ${compact(p.vf)} ${compact(p.vnic)} ${compact(p.from)} → ${compact(p.to)}`;
    case 'dfw.rule.hit':
    case 'dfw.reject':
      return `${compact(p.vnic)} ${compact(p.rule)} ${compact(p.action ?? p.reply)} ${compact(p.proto)} ${compact(p.src)}:${compact(p.sport)} → ${compact(p.dst)}:${compact(p.dport)}`;
    case 'vnic.handoff':
      return `${compact(p.vnic)} ${compact(p.direction)} on ${compact(p.host)} (${compact(p.dpu)}${p.vf !== null && p.vf !== undefined ? ` VF ${compact(p.vf)}` : ''}, ${compact(p.cause)})`;
    case 'vmotion.start':
      return `${compact(p.vm)} ${compact(p.from)} → ${compact(p.to)}, ${compact(p.memoryMiB)} MiB`;
    case 'vmotion.precheck':
      return `${compact(p.vm)} to ${compact(p.to)}: ${p.ok ? 'ok' : 'refused'}`;
    case 'vmotion.precopy.round':
      return `${compact(p.vm)} round ${compact(p.round)}: ${compact(p.pagesSent)} pages sent, ${compact(p.pagesDirtied)} dirtied`;
    case 'vmotion.stun':
      return `${compact(p.vm)} stunned on ${compact(p.host)}, ${compact(p.remainingPages)} pages left`;
    case 'vmotion.resume':
      return `${compact(p.vm)} runs on ${compact(p.host)} (from ${compact(p.from)}), switchover ${typeof p.switchoverNs === 'number' ? duration(p.switchoverNs) : '-'}`;
    case 'vmotion.done':
      return `${compact(p.vm)} ${compact(p.from)} → ${compact(p.to)} ${compact(p.result)}${p.reason ? `: ${compact(p.reason)}` : ''}, ${compact(p.rounds)} rounds, downtime ${typeof p.downtimeNs === 'number' ? duration(p.downtimeNs) : '-'}`;
    case 'dfw.export':
    case 'dfw.import':
      return `${compact(p.vnic)} v${compact(p.version)}${p.ok === false ? ` refused: ${compact(p.reason)}` : ''}, ${Array.isArray(p.rules) ? p.rules.length : '-'} rules, ${Array.isArray(p.connections) ? p.connections.length : '-'} connections`;
    case 'net.rarp':
      return `${compact(p.vm)} ${compact(p.vnic)} ${compact(p.mac)} on ${compact(p.host)} via ${compact(p.dpu)}`;
    case 'tcp.state':
      return `${compact(p.flow)} ${compact(p.previous)} → ${compact(p.state)}`;
    default: {
      const text = Object.entries(p)
        .filter(([k]) => k !== 'action' && k !== 'step')
        .map(([k, v]) => `${k}=${compact(v)}`)
        .join(' ');
      return text.length > 160 ? `${text.slice(0, 159)}…` : text;
    }
  }
}

/** The colour family of an event kind, for dots and badges. */
export function kindTone(kind: string): string {
  if (kind.startsWith('input.')) return 'tone-input';
  if (kind.startsWith('node.')) return 'tone-node';
  if (kind.startsWith('frame.')) return 'tone-frame';
  if (kind.startsWith('dfw.')) return 'tone-dfw';
  if (kind.startsWith('flow.') || kind.startsWith('tcp.')) return 'tone-flow';
  if (kind.startsWith('dpu.') || kind.startsWith('vf.') || kind.startsWith('vnic.')) return 'tone-dpu';
  if (kind.startsWith('vmotion.') || kind === 'net.rarp') return 'tone-vmotion';
  if (kind.startsWith('lldp.') || kind.startsWith('mac.') || kind.startsWith('link.')) return 'tone-net';
  return 'tone-other';
}
