import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';
import { PACKAGE_ROOT as ROOT } from '../processes/controller/package-root.js';

const SOURCE_FOLDERS = ['app', 'processes', 'shared'];

/** Every production TypeScript file (tests and test support left out), repository-relative. */
function productionFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(join(ROOT, dir))) {
      const path = join(dir, name);
      if (statSync(join(ROOT, path)).isDirectory()) walk(path);
      else if (name.endsWith('.ts') && !name.endsWith('.test.ts') && name !== 'testing.ts') out.push(path);
    }
  };
  for (const folder of SOURCE_FOLDERS) walk(folder);
  return out.sort();
}

/** The relative imports of a file (type-only ones too: a circle of types is still a circle). */
function importsOf(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const out: string[] = [];
  for (const match of text.matchAll(/^(?:import|export)\s[^;]*?from\s+'(\.{1,2}\/[^']+)'/gm)) {
    out.push(normalize(join(dirname(file), match[1]!)).replace(/\.js$/, '.ts'));
  }
  return out;
}

/** Strongly connected components of more than one file (Tarjan). */
function importCircles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const circles: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) circles.push(component.sort());
    }
  };
  for (const file of graph.keys()) if (!index.has(file)) visit(file);
  return circles;
}

describe('the layers', () => {
  it('architecture has no import circle among production files', () => {
    const files = productionFiles();
    expect(files.length).toBeGreaterThan(200);
    expect(importCircles(new Map(files.map((f) => [f, importsOf(f)])))).toEqual([]);
  });

  it('architecture finds a circle when there is one, and reads type-only imports', () => {
    const graph = new Map([
      ['a.ts', ['b.ts']],
      ['b.ts', ['c.ts']],
      ['c.ts', ['a.ts']],
      ['d.ts', ['a.ts']],
    ]);
    expect(importCircles(graph)).toEqual([['a.ts', 'b.ts', 'c.ts']]);
    expect(importsOf('processes/runtime/node-runtime.ts')).toContain('processes/runtime/queue.ts');
    expect(importsOf('processes/runtime/types.ts')).toContain('shared/events.ts');
  });

  it('architecture lint refuses an import that runs up a layer, across node kinds or into a test helper', async () => {
    const eslint = new ESLint({ cwd: ROOT });
    const cases: Array<[string, string]> = [
      ['processes/dpu/probe.ts', "import { LiveSession } from '../../app/server/live-session.js';\nexport const x = LiveSession;\n"],
      ['processes/dpu/probe.ts', "import { HostCore } from '../host/host-core.js';\nexport const x = HostCore;\n"],
      ['processes/vds/probe.ts', "import { DpuCore } from '../dpu/dpu-core.js';\nexport const x = DpuCore;\n"],
      ['shared/probe.ts', "import { Controller } from '../processes/controller/controller.js';\nexport const x = Controller;\n"],
      ['app/renderer/probe.ts', "import { startRun } from '../../processes/controller/session.js';\nexport const x = startRun;\n"],
      ['processes/dpu/probe.ts', "import { LabContext } from './ha/testing.js';\nexport const x = LabContext;\n"],
      ['app/server/probe.ts', "import { tempDir } from '../../test/support/cli.js';\nexport const x = tempDir;\n"],
    ];
    for (const [file, text] of cases) {
      const [result] = await eslint.lintText(text, { filePath: join(ROOT, file) });
      const layering = result!.messages.filter((m) => m.ruleId === 'local/layers');
      expect(layering.map((m) => m.message), `${file}: ${text}`).toHaveLength(1);
      expect(layering[0]!.message).toMatch(/^Layering: /);
    }
    const [allowed] = await eslint.lintText("import { OverlaySwitch } from '../vds/switching/index.js';\nexport const x = OverlaySwitch;\n", { filePath: join(ROOT, 'processes/dpu/probe.ts') });
    expect(allowed!.messages.filter((m) => m.ruleId === 'local/layers')).toEqual([]);
  });

  it('architecture the package ships no test helper: no testing.js, nothing of test/, in what npm packs', () => {
    // After `npm run build` (the integration tests run on a built tree): what `npm pack` would publish.
    const packed = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8' });
    expect(packed.status, packed.stderr).toBe(0);
    const files = (JSON.parse(packed.stdout) as Array<{ files: Array<{ path: string }> }>)[0]!.files.map((f) => f.path);
    expect(files).toContain('dist/processes/controller/api.js');
    expect(files.filter((f) => /(^|\/)testing\.js(\.map)?$|^dist\/test\/|^dist-dev\//.test(f))).toEqual([]);
  });
});
