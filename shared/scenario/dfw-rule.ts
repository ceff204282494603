/**
 * The schema of a firewall rule as written in YAML (scenario steps `{action: dfw.rule.add,
 * rule: {...}}`, rule files): checks the shape, fills the defaults and turns port shorthands
 * into ranges, producing the plain rule object the firewall takes. Imports nothing but zod, so
 * it can move to shared/ with the other file schemas.
 */
import { z } from 'zod';

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

/** VM ids, vNIC ids, addresses, CIDR prefixes or `any`: one or a list; absent means any. */
const termListSchema = z
  .union([z.string().min(1), z.array(z.string().min(1))])
  .transform((value) => (Array.isArray(value) ? value : [value]))
  .default(['any']);

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
  id: z
    .string()
    .min(1)
    .refine((id) => id !== RESERVED_RULE_ID, { error: `rule id "${RESERVED_RULE_ID}" is reserved for the default rule` }),
  /** Lower first; ties by id. */
  priority: z.int().min(0).default(1000),
  appliedTo: termListSchema,
  sources: termListSchema,
  destinations: termListSchema,
  service: dfwServiceSchema.default({ protocol: 'any', destinationPorts: [], sourcePorts: [], icmpType: null }),
  direction: z.enum(['in', 'out', 'in-out']).default('in-out'),
  action: z.enum(['allow', 'drop', 'reject']),
});

/** A rule as written (before defaults). */
export type DfwRuleInput = z.input<typeof dfwRuleSchema>;
/** A rule as the schema returns it: the firewall's rule object. */
export type DfwRuleOutput = z.output<typeof dfwRuleSchema>;
