// Copies the front end's static files (HTML, CSS) beside the compiled scripts in dist/web.
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const src = join(import.meta.dirname, '..', 'src', 'web');
const out = join(import.meta.dirname, '..', 'dist', 'web');
mkdirSync(out, { recursive: true });
for (const f of readdirSync(src)) if (/\.(html|css|svg)$/.test(f)) copyFileSync(join(src, f), join(out, f));
