import type { LoggerService, LogLevel as NestLogLevel } from '@nestjs/common';

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

function write(level: LogLevel, component: string, message: string): void {
  if (RANK[level] < threshold) return;
  // One write per line so lines of concurrent writers never interleave mid-line.
  const line = `${new Date().toISOString()} ${TAG[level]} [${component}] ${message.replace(/\n/g, '\\n')}\n`;
  (RANK[level] >= RANK.warn ? process.stderr : process.stdout).write(line);
}

export function createLogger(component: string): Logger {
  return {
    component,
    debug: (m) => write('debug', component, m),
    info: (m) => write('info', component, m),
    warn: (m) => write('warn', component, m),
    error: (m, err) => write('error', component, err === undefined ? m : `${m}: ${errorText(err)}`),
    isDebugEnabled: () => threshold <= RANK.debug,
  };
}

export function errorText(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}

/**
 * Nest's logger, routed through our format. Nest's own info chatter (module init, route
 * mapping, "successfully started") is dropped unless the level is debug; its warnings and
 * errors are kept.
 */
export class NestLogger implements LoggerService {
  log(message: unknown, context?: unknown): void {
    write('debug', ctx(context), text(message));
  }
  error(message: unknown, ...rest: unknown[]): void {
    const trace = rest.length > 1 ? rest[0] : undefined;
    const c = rest.length > 0 ? rest[rest.length - 1] : undefined;
    write('error', ctx(c), text(message) + (typeof trace === 'string' && trace ? ` ${trace.split('\n')[1]?.trim() ?? ''}` : ''));
  }
  warn(message: unknown, context?: unknown): void {
    write('warn', ctx(context), text(message));
  }
  debug(message: unknown, context?: unknown): void {
    write('debug', ctx(context), text(message));
  }
  verbose(message: unknown, context?: unknown): void {
    write('debug', ctx(context), text(message));
  }
  fatal(message: unknown, context?: unknown): void {
    write('error', ctx(context), text(message));
  }
  setLogLevels(_levels: NestLogLevel[]): void {
    // our threshold rules
  }
}

function ctx(c: unknown): string {
  return typeof c === 'string' && c !== '' ? `nest:${c}` : 'nest';
}

function text(m: unknown): string {
  if (typeof m === 'string') return m;
  if (m instanceof Error) return m.stack?.split('\n').slice(0, 2).join(' ') ?? m.message;
  try {
    return JSON.stringify(m);
  } catch {
    return String(m);
  }
}
