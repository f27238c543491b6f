// Process-level helpers for servers, free of Nest.
import type { Logger } from './logger.js';

/** True for EADDRINUSE. */
export function portInUse(e: unknown): boolean {
  return (e as NodeJS.ErrnoException | undefined)?.code === 'EADDRINUSE';
}

/** Exits with a one-line reason: the usual outcome of a server that cannot bind. */
export function exitWith(log: Logger, message: string): never {
  log.error(message);
  process.exit(1);
}
