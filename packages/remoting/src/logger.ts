/**
 * The one log format of every rocketmq-ts process: one line per event,
 * `2026-11-26T15:04:05.123Z INFO  [component] message`. info/debug go to stdout, warn/error to
 * stderr. The level comes from `ROCKETMQ_LOG_LEVEL` (debug, info, warn, error; default info) or
 * `setLogLevel`.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const TAG: Record<LogLevel, string> = { debug: 'DEBUG', info: 'INFO ', warn: 'WARN ', error: 'ERROR' };

function envLevel(): LogLevel {
  const v = (process.env['ROCKETMQ_LOG_LEVEL'] ?? '').toLowerCase();
  return v === 'debug' || v === 'warn' || v === 'error' || v === 'info' ? v : 'info';
}

let threshold = RANK[envLevel()];

export function setLogLevel(level: LogLevel): void {
  threshold = RANK[level];
}

export interface Logger {
  readonly component: string;
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string, err?: unknown): void;
  isDebugEnabled(): boolean;
}

/** @internal one formatted log line (also used by the Nest logger adapter). */
export function logLine(level: LogLevel, component: string, message: string): void {
  if (RANK[level] < threshold) return;
  // One write per line so lines of concurrent writers never interleave mid-line.
  const line = `${new Date().toISOString()} ${TAG[level]} [${component}] ${message.replace(/\n/g, '\\n')}\n`;
  (RANK[level] >= RANK.warn ? process.stderr : process.stdout).write(line);
}

export function createLogger(component: string): Logger {
  return {
    component,
    debug: (m) => logLine('debug', component, m),
    info: (m) => logLine('info', component, m),
    warn: (m) => logLine('warn', component, m),
    error: (m, err) => logLine('error', component, err === undefined ? m : `${m}: ${errorText(err)}`),
    isDebugEnabled: () => threshold <= RANK.debug,
  };
}

export function errorText(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}

/** @internal */
export function logText(m: unknown): string {
  if (typeof m === 'string') return m;
  if (m instanceof Error) return m.stack?.split('\n').slice(0, 2).join(' ') ?? m.message;
  try {
    return JSON.stringify(m);
  } catch {
    return String(m);
  }
}
