import { readFileSync, statSync } from 'node:fs';
import type { Logger } from '@rocketmq-ts/remoting';
import type { FailurePoint, FailureProbes } from '@rocketmq-ts/store';

/** Environment variable naming the fault file; unset (always, outside tests) = no toggles, no timer. */
export const FAULT_FILE_ENV = 'ROCKETMQ_TS_FAULT_FILE';

const POINTS: readonly FailurePoint[] = ['append', 'roll', 'write', 'fsync', 'truncate'];

/**
 * Test-only fault toggles for a running broker: tests write JSON to the file named by
 * ROCKETMQ_TS_FAULT_FILE, e.g. `{"stall":{"fsync":3000}}` (a disk whose fdatasync takes 3 s) or
 * `{"fail":{"write":"EIO"}}`; the broker applies the file's current content to its store's
 * failure probes within 100 ms. An empty object clears every toggle.
 */
export function watchFaultFile(path: string, failures: FailureProbes, log: Logger): () => void {
  let lastMtime = -1;
  const apply = (): void => {
    let mtime: number;
    try {
      mtime = statSync(path).mtimeMs;
    } catch {
      return;
    }
    if (mtime === lastMtime) return;
    lastMtime = mtime;
    let spec: { stall?: Record<string, unknown>; fail?: Record<string, unknown> };
    try {
      spec = JSON.parse(readFileSync(path, 'utf8')) as typeof spec;
    } catch {
      return; // half-written: read again at the next tick
    }
    for (const p of POINTS) {
      const ms = spec.stall?.[p];
      failures.stall(p, typeof ms === 'number' ? ms : 0);
      const code = spec.fail?.[p];
      if (typeof code === 'string') failures.arm(p, code);
      else failures.disarm(p);
    }
    log.warn(`fault toggles from ${path}: ${JSON.stringify(spec)}`);
  };
  apply();
  const t = setInterval(apply, 100);
  t.unref();
  return () => clearInterval(t);
}
