import { createLogger, errorText } from '@rocketmq-ts/remoting';

export type ClientLogLevel = 'debug' | 'info' | 'warn' | 'error';

/** Context of one log event: names RocketMQ users search for (topic, group, brokerName, queueId, ...). */
export type LogFields = Record<string, string | number | boolean | undefined | null>;

/**
 * Where client events go. `event` is a short stable name (e.g. "send.retry", "rebalance.changed")
 * so that hooks can count or route events without parsing text; `message` is for people.
 */
export interface ClientLogger {
  log(level: ClientLogLevel, event: string, message: string, fields?: LogFields, err?: unknown): void;
}

/** The default sink: the repository's one-line log format under component `client:<name>`. */
export function defaultClientLogger(component: string): ClientLogger {
  const l = createLogger(component);
  return {
    log(level, event, message, fields, err) {
      if (level === 'debug' && !l.isDebugEnabled()) return;
      let line = `${event}: ${message}`;
      if (fields) {
        const parts: string[] = [];
        for (const [k, v] of Object.entries(fields)) if (v !== undefined && v !== null) parts.push(`${k}=${String(v)}`);
        if (parts.length > 0) line += ` {${parts.join(', ')}}`;
      }
      if (err !== undefined) line += `: ${errorText(err)}`;
      if (level === 'error') l.error(line);
      else l[level](line);
    },
  };
}

/** A small facade so call sites read `log.warn(event, message, fields)`. */
export class Log {
  constructor(private readonly sink: ClientLogger) {}
  debug(event: string, message: string, fields?: LogFields): void {
    this.sink.log('debug', event, message, fields);
  }
  info(event: string, message: string, fields?: LogFields): void {
    this.sink.log('info', event, message, fields);
  }
  warn(event: string, message: string, fields?: LogFields, err?: unknown): void {
    this.sink.log('warn', event, message, fields, err);
  }
  error(event: string, message: string, fields?: LogFields, err?: unknown): void {
    this.sink.log('error', event, message, fields, err);
  }
}
