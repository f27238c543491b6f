// The SDK must not load NestJS: apps that embed the client should not pay for (or conflict with) Nest.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from '@jest/globals';

describe('@rocketmq-ts/client', () => {
  it('loads without any @nestjs module (a resolve hook records every specifier)', () => {
    const entry = pathToFileURL(join(import.meta.dirname, '..', 'dist', 'index.js')).href;
    const hook = `export async function resolve(s, c, next) { if (s.startsWith('@nestjs/')) process.stdout.write('NEST ' + s + ' from ' + c.parentURL + '\\n'); return next(s, c); }`;
    const script = [
      `import { register } from 'node:module';`,
      `register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(hook)}));`,
      `const m = await import(${JSON.stringify(entry)});`,
      `process.stdout.write('exports ' + Object.keys(m).length + '\\n');`,
    ].join('\n');
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 30_000,
      env: { ...process.env, NODE_OPTIONS: '' },
    });
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^exports \d+$/m);
    expect(r.stdout.split('\n').filter((l) => l.startsWith('NEST '))).toEqual([]);
  });

  it('the resolve hook does see @nestjs when a module loads it (the check can fail)', () => {
    const entry = pathToFileURL(join(import.meta.dirname, '..', '..', 'remoting', 'dist', 'nest', 'index.js')).href;
    const hook = `export async function resolve(s, c, next) { if (s.startsWith('@nestjs/')) process.stdout.write('NEST ' + s + '\\n'); return next(s, c); }`;
    const script = `import { register } from 'node:module'; register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(hook)})); await import(${JSON.stringify(entry)});`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 30_000,
      env: { ...process.env, NODE_OPTIONS: '' },
    });
    expect(r.stdout).toContain('NEST @nestjs/');
  });
});
