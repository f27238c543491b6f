#!/usr/bin/env node
// Fails when relative imports inside a package's src/ form a cycle (part of `pnpm lint`).
// Type-only imports count too: a cycle of types is still a tangle for the reader.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const root = resolve(dirname(new URL(import.meta.url).pathname), '..');
const srcDirs = [];
for (const group of ['apps', 'packages']) {
  for (const name of readdirSync(join(root, group))) {
    const src = join(root, group, name, 'src');
    try {
      if (statSync(src).isDirectory()) srcDirs.push(src);
    } catch {
      // no src
    }
  }
}

function walk(dir, out) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.spec.ts') && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"](\.[^'"]+)['"]/g;
let cycles = 0;
for (const src of srcDirs) {
  const files = walk(src, []);
  const graph = new Map();
  for (const f of files) {
    const deps = [];
    for (const m of readFileSync(f, 'utf8').matchAll(IMPORT)) deps.push(resolve(dirname(f), m[1].replace(/\.js$/, '.ts')));
    graph.set(
      f,
      deps.filter((d) => graph.has(d) || files.includes(d)),
    );
  }
  const state = new Map(); // 1 visiting, 2 done
  const stack = [];
  const visit = (f) => {
    state.set(f, 1);
    stack.push(f);
    for (const d of graph.get(f) ?? []) {
      if (state.get(d) === 1) {
        const cyc = stack
          .slice(stack.indexOf(d))
          .concat(d)
          .map((x) => relative(root, x));
        console.error(`import cycle: ${cyc.join(' -> ')}`);
        cycles++;
      } else if (state.get(d) === undefined) {
        visit(d);
      }
    }
    stack.pop();
    state.set(f, 2);
  };
  for (const f of files) if (state.get(f) === undefined) visit(f);
}
if (cycles > 0) process.exit(1);
console.log(`no import cycles in ${srcDirs.length} packages`);
