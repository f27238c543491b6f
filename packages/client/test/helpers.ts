import { setTimeout as sleep } from 'node:timers/promises';
import type { ClientLogger } from '../src/index.js';

export { sleep };

/** Collects client log events (quiet tests, and assertions on events). */
export function captureLogger(
  echo = process.env['ROCKETMQ_TS_TEST_ECHO'] === '1',
): ClientLogger & { events: Array<{ level: string; event: string; message: string }> } {
  const events: Array<{ level: string; event: string; message: string }> = [];
  return {
    events,
    log(level, event, message, fields, err) {
      events.push({ level, event, message });
      if (echo) process.stderr.write(`[${level}] ${event}: ${message} ${JSON.stringify(fields ?? {})} ${err ? String(err) : ''}\n`);
    },
  };
}

let n = 0;
/** A topic or group name unique within the test run. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${process.pid}_${Date.now().toString(36)}_${++n}`;
}
