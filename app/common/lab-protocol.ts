/**
 * The lab panel's part of the UI API: `GET /api/lab` (the labs on offer, the lab in progress and
 * its grade), `POST /api/lab` (start a lab, or start it again), and the `{t: 'lab'}` stream
 * message that carries the grade as events arrive. No Node imports: the renderer imports the
 * types.
 */
import { z } from 'zod';
import type { GradeBinding, LabGrade } from '../../shared/lab/grader.js';
import { nameSchema } from '../../shared/topology/schema.js';

/** Where a run's events come from. */
export type SessionMode = 'live' | 'replay';

/** `POST /api/lab` body: the lab to start (again, when it is the one in progress). */
export const labRequestSchema = z.strictObject({ lab: nameSchema('a lab name').max(100) });

/** A lab on offer. */
export interface LabListing {
  readonly name: string;
  readonly title: string;
  readonly tasks: number;
}

/** The lab in progress, as the panel shows it. */
export interface LabInfo {
  readonly name: string;
  readonly title: string;
  /** Markdown. */
  readonly introduction: string;
  readonly tasks: ReadonlyArray<{ readonly id: string; readonly text: string; readonly hints: readonly string[] }>;
  /** Virtual time the lab's run ends at. */
  readonly endNs: number;
  /** The run's event log. */
  readonly db: string;
  /** What binds a grade to its run, its lab and dpulab: the fields `dpulab lab check --json` gives. */
  readonly binding: GradeBinding;
}

/** `GET /api/lab` and `POST /api/lab`. */
export interface LabResponse {
  readonly mode: SessionMode;
  readonly labs: readonly LabListing[];
  /** Null until a lab is started (live) or chosen to grade the recording (replay). */
  readonly lab: LabInfo | null;
  readonly grade: LabGrade | null;
}

/** What the stream pushes when the grade of the lab in progress changes. */
export interface LabMessage {
  readonly t: 'lab';
  readonly grade: LabGrade;
}
