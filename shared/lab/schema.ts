/**
 * The shape of a lab file, as zod schemas. Parts whose shape depends on a discriminating key (a
 * check's `type`, a measure's `name`, a condition written as a value or as operators) are
 * checked one by one by the loader, so that each problem names the exact field.
 */

import { z } from 'zod';
import { nameSchema } from '../topology/schema.js';
import { describeValue } from '../topology/yaml-source.js';
import { parseDuration, UnitError } from '../units.js';

/** An event kind (`vmotion.done`) or a prefix written `dfw.*`. */
export const kindPatternSchema = z.string().regex(/^[a-z0-9][a-z0-9_-]*(\.[a-z0-9_-]+)*(\.\*)?$/, {
  error: (issue) => `expected an event kind such as vmotion.done, or a prefix such as dfw.*, got ${describeValue(issue.input)}`,
});

/** One node id or a list of them. */
const nodesSchema = z.union([nameSchema('a node id'), z.array(nameSchema('a node id')).min(1)], {
  error: (issue) => (issue.input === undefined ? undefined : `expected a node id or a list of node ids, got ${describeValue(issue.input)}`),
});

/** A value compared with a payload field. */
export const scalarSchema = z.union([z.string(), z.number(), z.boolean(), z.null()], {
  error: (issue) => (issue.input === undefined ? undefined : `expected a string, a number, true, false or null, got ${describeValue(issue.input)}`),
});

/** A number, or a duration with a unit (`400ms`) read as nanoseconds. */
export const numberOrDurationSchema = z
  .union([z.number(), z.string()], {
    error: (issue) => (issue.input === undefined ? undefined : `expected a number or a duration such as 400ms, got ${describeValue(issue.input)}`),
  })
  .transform((input, ctx) => {
    if (typeof input === 'number') return input;
    try {
      return parseDuration(input);
    } catch (error) {
      if (!(error instanceof UnitError)) throw error;
      ctx.issues.push({ code: 'custom', message: `expected a number or a duration such as 400ms: ${error.fragment}`, input });
      return z.NEVER;
    }
  });

/** The operators of a condition written as a mapping (`{ gte: 1, lte: 5 }`). */
export const conditionOperatorsSchema = z
  .strictObject({
    equals: scalarSchema.optional(),
    not: scalarSchema.optional(),
    in: z.array(scalarSchema).min(1).optional(),
    gte: numberOrDurationSchema.optional(),
    gt: numberOrDurationSchema.optional(),
    lte: numberOrDurationSchema.optional(),
    lt: numberOrDurationSchema.optional(),
    exists: z.boolean().optional(),
    contains: scalarSchema.optional(),
  })
  .refine((ops) => Object.keys(ops).length > 0, { message: 'give at least one of equals, not, in, gte, gt, lte, lt, exists, contains' });

/** What selects events: kind, node and payload conditions (checked one by one). */
const matcherShape = {
  kind: kindPatternSchema,
  node: nodesSchema.optional(),
  where: z.record(z.string().min(1), z.unknown()).optional(),
  show: z.array(z.string().min(1)).optional(),
};

/** An event matcher on its own (`first` and `then` of an order check). */
export const matcherSchema = z.strictObject(matcherShape);

/** The advice a failing check gives, appended to what went wrong. */
const fixSchema = z.string().min(1).optional();

/** Per check type, the schema of a check of that type. */
export const CHECK_SCHEMAS = {
  event: z.strictObject({ type: z.literal('event'), ...matcherShape, atLeast: z.int().min(0).optional(), atMost: z.int().min(0).optional(), fix: fixSchema }),
  'no-event': z.strictObject({ type: z.literal('no-event'), ...matcherShape, fix: fixSchema }),
  order: z.strictObject({ type: z.literal('order'), first: matcherSchema, then: matcherSchema, fix: fixSchema }),
  threshold: z
    .strictObject({
      type: z.literal('threshold'),
      measure: z.record(z.string(), z.unknown()),
      min: numberOrDurationSchema.optional(),
      max: numberOrDurationSchema.optional(),
      /** The student states the measured value in a note, within this much. */
      answerWithin: numberOrDurationSchema.optional(),
      fix: fixSchema,
    })
    .refine((c) => c.min !== undefined || c.max !== undefined, { message: 'give min, max or both', path: ['max'] }),
};

/** VNIC modes as the cost model names them (`no-dpu` and `none` included). */
const costModes = ['uptv2', 'mux', 'emulated', 'no-dpu', 'none'] as const;

/** Per named measure, the schema of its parameters. */
export const NAMED_MEASURE_SCHEMAS = {
  switchover: z.strictObject({ name: z.literal('switchover'), vm: nameSchema('a VM id') }),
  downtime: z.strictObject({ name: z.literal('downtime'), vm: nameSchema('a VM id') }),
  detection: z.strictObject({ name: z.literal('detection'), host: nameSchema('a host id').optional() }),
  'failover-time': z.strictObject({ name: z.literal('failover-time'), host: nameSchema('a host id').optional() }),
  'flow-loss': z.strictObject({ name: z.literal('flow-loss'), flow: nameSchema('a flow id') }),
  cores: z.strictObject({ name: z.literal('cores'), node: nameSchema('a node id'), mode: z.enum(costModes).optional() }),
};

/** A measure written as a payload field of matching events. */
export const fieldMeasureSchema = z.strictObject({
  ...matcherShape,
  field: z.string().min(1),
  pick: z.enum(['first', 'last', 'min', 'max', 'sum']).default('last'),
  unit: z.enum(['ns', 'cores', 'messages', 'plain']).optional(),
  label: z.string().min(1).optional(),
});

/** One task, its check still unchecked. */
export const taskSchema = z.strictObject({
  id: nameSchema('a task id'),
  text: z.string().min(1),
  hints: z.array(z.string().min(1)).default([]),
  check: z.union([z.record(z.string(), z.unknown()), z.array(z.unknown()).min(1)], {
    error: (issue) => (issue.input === undefined ? 'required' : `expected a check (a mapping with a type) or a list of checks, got ${describeValue(issue.input)}`),
  }),
});

/** A topology or scenario: a file name relative to the lab file, or the mapping itself. */
const partSchema = z.union([z.string().min(1), z.record(z.string(), z.unknown())], {
  error: (issue) => (issue.input === undefined ? undefined : `expected a file name or a mapping, got ${describeValue(issue.input)}`),
});

/** The top level of a lab file; tasks and embedded parts are checked one by one. */
export const labEnvelopeSchema = z.strictObject({
  /** Defaults to the file name without its extension. */
  name: nameSchema('a lab name').optional(),
  title: z.string().min(1),
  introduction: z.string().min(1),
  /** Quoted in every grade; default 1. */
  version: z.union([z.int().min(1), z.string().regex(/^[0-9A-Za-z][0-9A-Za-z.+-]*$/, 'expected a version such as 2 or 1.1')]).optional(),
  seed: z.int().min(0).optional(),
  /** Absent: the embedded default lab. */
  topology: partSchema.optional(),
  /** The starting scenario; absent: no steps, 3 s. */
  scenario: partSchema.optional(),
  /** The reference solution: steps added to the starting scenario. */
  solution: partSchema.optional(),
  tasks: z.array(z.unknown()).min(1),
});
