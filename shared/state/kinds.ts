/**
 * Event kind patterns as people type them in filters and "run until": an exact kind
 * (`lldp.neighbor`), a prefix written `lldp.*`, or a plain prefix (`lldp`, meaning the kind
 * itself and everything under it).
 */

/** Whether `kind` matches `pattern`. */
export function kindMatches(kind: string, pattern: string): boolean {
  if (pattern.endsWith('.*')) return kind.startsWith(pattern.slice(0, -1));
  return kind === pattern || kind.startsWith(`${pattern}.`);
}
