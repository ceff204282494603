/** Longest part of a file name dpulab derives from a name it was given (a topology, a lab). */
const MAX_PART = 64;

/**
 * A name as a safe part of a file name: letters, digits, `.`, `_` and `-` kept, anything else
 * (a `/`, `..`, a control character, a space) turned into `_`, no leading dot, at most 64
 * characters. A topology named `../../x` or 300 characters long still gets its log in `runs/`.
 *
 * @example
 * fileNamePart('../../etc/x'); // '___.._etc_x'
 */
export function fileNamePart(name: string): string {
  const safe = name.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, (dots) => '_'.repeat(dots.length));
  const short = safe.length > MAX_PART ? safe.slice(0, MAX_PART) : safe;
  return short === '' ? 'unnamed' : short;
}
