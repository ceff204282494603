/**
 * Switching loops: two switches joined by two wires, or a ring of three, make a loop in which a
 * broadcast circles forever (every lap floods it again), a storm that fills links and logs. The
 * topology loader refuses a loop unless every switch on it runs a spanning tree.
 */

/** An Ethernet wire between two switches, as written in the file. */
export interface SwitchLink {
  readonly id: string;
  /** Index in the file's `wires:` list. */
  readonly index: number;
  readonly a: string;
  readonly b: string;
}

/** A loop: the wire that closes it, and every wire and switch on it. */
export interface SwitchingLoop {
  readonly closing: SwitchLink;
  /** The wires of the loop, the closing one last. */
  readonly wires: readonly SwitchLink[];
  /** The switches of the loop, sorted. */
  readonly switches: readonly string[];
}

/**
 * Every independent loop among `links`, one per wire that closes one (in file order): a wire
 * whose ends are already joined by earlier wires. Linear in the number of wires and switches,
 * plus one path search per loop.
 */
export function switchingLoops(links: readonly SwitchLink[]): SwitchingLoop[] {
  const parent = new Map<string, string>();
  const find = (x: string): string => {
    let root = x;
    while (parent.get(root) !== undefined && parent.get(root) !== root) root = parent.get(root)!;
    // Path compression keeps later finds short.
    for (let y = x; y !== root; ) {
      const next = parent.get(y)!;
      parent.set(y, root);
      y = next;
    }
    return root;
  };
  const tree = new Map<string, Array<{ to: string; link: SwitchLink }>>();
  const edge = (from: string, to: string, link: SwitchLink): void => {
    const list = tree.get(from) ?? [];
    list.push({ to, link });
    tree.set(from, list);
  };
  const loops: SwitchingLoop[] = [];
  for (const link of links) {
    for (const end of [link.a, link.b]) if (!parent.has(end)) parent.set(end, end);
    const ra = find(link.a);
    const rb = find(link.b);
    if (ra === rb) {
      const path = treePath(tree, link.a, link.b);
      const wires = [...path, link];
      const switches = [...new Set(wires.flatMap((w) => [w.a, w.b]))].sort();
      loops.push({ closing: link, wires, switches });
      continue;
    }
    parent.set(ra, rb);
    edge(link.a, link.b, link);
    edge(link.b, link.a, link);
  }
  return loops;
}

/** The wires of the path from `from` to `to` in a forest (empty when they are the same switch). */
function treePath(tree: ReadonlyMap<string, Array<{ to: string; link: SwitchLink }>>, from: string, to: string): SwitchLink[] {
  const via = new Map<string, { prev: string; link: SwitchLink } | null>([[from, null]]);
  const queue = [from];
  for (let i = 0; i < queue.length && !via.has(to); i++) {
    const at = queue[i]!;
    for (const { to: next, link } of tree.get(at) ?? []) {
      if (via.has(next)) continue;
      via.set(next, { prev: at, link });
      queue.push(next);
    }
  }
  const path: SwitchLink[] = [];
  for (let step = via.get(to); step; step = via.get(step.prev)) path.unshift(step.link);
  return path;
}
