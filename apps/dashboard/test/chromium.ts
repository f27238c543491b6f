import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export const CHROMIUM = '/usr/bin/chromium';

/**
 * Debian's chromium, installed with apt-get when missing (CI runs as root). A failed install
 * fails the suite with apt's output: the browser tests are never skipped silently.
 */
export function ensureChromium(): string {
  if (existsSync(CHROMIUM)) return CHROMIUM;
  const run = (args: string[]): { ok: boolean; out: string } => {
    const r = spawnSync('apt-get', args, { encoding: 'utf8', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, timeout: 420_000 });
    return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
  };
  let r = run(['install', '-y', '--no-install-recommends', 'chromium']);
  if (!r.ok) {
    run(['update']);
    r = run(['install', '-y', '--no-install-recommends', 'chromium']);
  }
  if (!r.ok || !existsSync(CHROMIUM)) {
    throw new Error(`the browser tests need ${CHROMIUM}; "apt-get install -y chromium" failed (run as root?):\n${r.out.slice(-2000)}`);
  }
  return CHROMIUM;
}
