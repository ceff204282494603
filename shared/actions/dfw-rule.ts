/**
 * The schema of a firewall rule as written in YAML (scenario steps `{action: dfw.rule.add,
 * rule: {...}}`, UI and API actions): checks the shape and the terms, fills the defaults and turns
 * port shorthands into ranges, producing the plain rule object the firewall takes. Its output
 * parses again to itself, so a recorded rule replays as it ran.
 */
import { z } from 'zod';
import { parseCidr } from '../net/ip.js';
import { NAME_PATTERN, nameSchema } from '../topology/schema.js';

/** The id the firewall keeps for its own default rule. */
const RESERVED_RULE_ID = 'default';

const portNumber = z.int().min(0).max(65_535);

/** A port range: `443`, `"8000-8080"` or `{from: 8000, to: 8080}`. */
const portRangeSchema = z
  .union([
    portNumber.transform((port) => ({ from: port, to: port })),
    z
      .string()
      .regex(/^\s*\d{1,5}\s*(-\s*\d{1,5}\s*)?$/, { error: 'expected a port such as 443 or a range such as "8000-8080"' })
      .transform((text) => {
        const [from = 0, to = from] = text.split('-').map((part) => Number(part.trim()));
        return { from, to };
      }),
    z.strictObject({ from: portNumber, to: portNumber }),
  ])
  .refine((range) => range.from <= range.to && range.to <= 65_535, { error: 'expected a port range from low to high within 0-65535' });

/** One port range or a list of them; absent means any port. */
const portListSchema = z
  .union([portRangeSchema, z.array(portRangeSchema)])
  .transform((value) => (Array.isArray(value) ? value : [value]))
  .default([]);

/** Text meant as an address or CIDR prefix rather than an id: it has a slash or a colon, or is all digits and dots. */
export function isAddressTerm(term: string): boolean {
  return term.includes('/') || term.includes(':') || /^[0-9.]+$/.test(term);
}

/** Whether an address term parses as the firewall will parse it. */
function parsesAsCidr(term: string): boolean {
  try {
    parseCidr(term);
    return true;
  } catch {
    return false;
  }
}

/** One term of `sources` or `destinations`: `any`, a VM or vNIC id, an address or a CIDR prefix. */
const addressTermSchema = z.string().superRefine((term, ctx) => {
  if (term === 'any') return;
  if (isAddressTerm(term)) {
    if (!parsesAsCidr(term)) ctx.addIssue({ code: 'custom', message: `${JSON.stringify(term)} is neither an IPv4 or IPv6 address nor a CIDR prefix` });
  } else if (!NAME_PATTERN.test(term)) {
    ctx.addIssue({ code: 'custom', message: `expected any, a VM or vNIC id, an address or a CIDR prefix, got ${JSON.stringify(term)}` });
  }
});

/** One term of `appliedTo`: `any` or a VM or vNIC id (a rule is carried by vNIC filters, not by addresses). */
const appliedToTermSchema = z.string().refine((term) => term === 'any' || (!isAddressTerm(term) && NAME_PATTERN.test(term)), {
  error: (issue) => `expected any or a VM or vNIC id, got ${JSON.stringify(issue.input)}`,
});

/** Terms of one kind: one or a list; absent means any. */
function termListSchema(term: z.ZodType<string>) {
  return z
    .union([term, z.array(term)])
    .transform((value) => (Array.isArray(value) ? value : [value]))
    .default(['any']);
}

/** The service a rule matches. Ports only for tcp and udp, an ICMP type only for icmp and icmpv6. */
export const dfwServiceSchema = z
  .strictObject({
    protocol: z.enum(['tcp', 'udp', 'icmp', 'icmpv6', 'any']).default('any'),
    destinationPorts: portListSchema,
    sourcePorts: portListSchema,
    icmpType: z.int().min(0).max(255).nullable().default(null),
  })
  .superRefine((service, ctx) => {
    const ported = service.protocol === 'tcp' || service.protocol === 'udp';
    if (!ported && (service.destinationPorts.length > 0 || service.sourcePorts.length > 0)) {
      ctx.addIssue({ code: 'custom', message: `ports are only for tcp and udp, not ${service.protocol}`, path: ['destinationPorts'] });
    }
    if (service.icmpType !== null && service.protocol !== 'icmp' && service.protocol !== 'icmpv6') {
      ctx.addIssue({ code: 'custom', message: `icmpType is only for icmp and icmpv6, not ${service.protocol}`, path: ['icmpType'] });
    }
  });

/** A distributed firewall rule as written in YAML, with its defaults filled in. */
export const dfwRuleSchema = z.strictObject({
  id: nameSchema('a rule id')
    .refine((id) => id !== RESERVED_RULE_ID, { error: `rule id "${RESERVED_RULE_ID}" is reserved for the default rule` }),
  /** Lower first; ties by id. */
  priority: z.int().min(0).default(1000),
  appliedTo: termListSchema(appliedToTermSchema),
  sources: termListSchema(addressTermSchema),
  destinations: termListSchema(addressTermSchema),
  service: dfwServiceSchema.default({ protocol: 'any', destinationPorts: [], sourcePorts: [], icmpType: null }),
  direction: z.enum(['in', 'out', 'in-out']).default('in-out'),
  action: z.enum(['allow', 'drop', 'reject']),
});

/** A rule as written (before defaults). */
export type DfwRuleInput = z.input<typeof dfwRuleSchema>;
/** A rule as the schema returns it: the firewall's rule object. */
export type DfwRuleOutput = z.output<typeof dfwRuleSchema>;
