import { describe, expect, expectTypeOf, it } from 'vitest';
import { parse } from 'yaml';
import { TestContext } from '../../runtime/testing.js';
import { DistributedFirewall } from './firewall.js';
import type { DfwRule } from './rule.js';
import { dfwRuleSchema } from '../../../shared/actions/dfw-rule.js';
import type { DfwRuleOutput } from '../../../shared/actions/dfw-rule.js';
import { CLIENT, tcp, WEB } from './testing.js';

describe('dfwRuleSchema', () => {
  it('dfwRuleSchema output is a firewall rule', () => {
    expectTypeOf<DfwRuleOutput>().toExtend<DfwRule>();
  });

  it('dfwRuleSchema fills defaults for a minimal rule', () => {
    expect(dfwRuleSchema.parse({ id: 'deny-all', action: 'drop' })).toEqual({
      id: 'deny-all',
      priority: 1000,
      appliedTo: ['any'],
      sources: ['any'],
      destinations: ['any'],
      service: { protocol: 'any', destinationPorts: [], sourcePorts: [], icmpType: null },
      direction: 'in-out',
      action: 'drop',
    });
  });

  it('dfwRuleSchema reads port shorthands from YAML into ranges the firewall matches', () => {
    const written = parse(`
id: web-in
priority: 10
appliedTo: web-01
sources: [192.168.0.0/16, db-01]
service: { protocol: tcp, destinationPorts: [80, "8000-8080", {from: 9000, to: 9001}], sourcePorts: "1024-65535" }
direction: in
action: allow
`) as unknown;
    const parsed = dfwRuleSchema.parse(written);
    expect(parsed.appliedTo).toEqual(['web-01']);
    expect(parsed.service.destinationPorts).toEqual([
      { from: 80, to: 80 },
      { from: 8000, to: 8080 },
      { from: 9000, to: 9001 },
    ]);
    expect(parsed.service.sourcePorts).toEqual([{ from: 1024, to: 65535 }]);

    const ctx = new TestContext('dpu-a');
    const fw = new DistributedFirewall({ node: 'dpu-a', defaultAction: 'drop' });
    fw.attach(WEB);
    fw.setRules(ctx, [parsed], 1);
    expect(fw.filter(ctx, WEB.vnic, 'in', tcp(CLIENT, WEB, [40000, 8042], { syn: true }, 1)).ruleId).toBe('web-in');
  });

  it('dfwRuleSchema refuses ports on ICMP, ICMP types on TCP, reversed ranges, the reserved id and unknown fields', () => {
    const bad = [
      { id: 'a', action: 'allow', service: { protocol: 'icmp', destinationPorts: 80 } },
      { id: 'b', action: 'allow', service: { protocol: 'tcp', icmpType: 8 } },
      { id: 'c', action: 'allow', service: { protocol: 'tcp', destinationPorts: '90-80' } },
      { id: 'd', action: 'allow', service: { protocol: 'udp', destinationPorts: 70000 } },
      { id: 'default', action: 'allow' },
      { id: 'e', action: 'allow', log: true },
      { id: 'f', action: 'permit' },
    ];
    for (const rule of bad) expect(dfwRuleSchema.safeParse(rule).success, JSON.stringify(rule)).toBe(false);
  });
});
