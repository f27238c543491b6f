import type { LoggerService, LogLevel as NestLogLevel } from '@nestjs/common';
import { logLine as write, logText as text } from '../logger.js';

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
