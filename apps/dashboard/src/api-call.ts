import { MQError } from '@rocketmq-ts/protocol';
import { createLogger } from '@rocketmq-ts/remoting';
import { BadRequest } from './console.service.js';
import type { DashboardMetrics } from './metrics.js';

const log = createLogger('dashboard');

/** The slice of the express response the API controllers touch. */
export interface HttpResponse {
  status(code: number): unknown;
  setHeader(name: string, value: string): unknown;
}

/**
 * One API call as every controller answers it: no caching, the route's outcome counted, and errors
 * as `{ error }` — 400 for a request refused as given, 404 for a cluster code in `notFound`, else 502.
 */
export async function runApiCall<T>(
  metrics: DashboardMetrics,
  notFound: ReadonlySet<number>,
  route: string,
  res: HttpResponse,
  fn: () => Promise<T>,
): Promise<T | { error: string }> {
  const start = performance.now();
  res.setHeader('Cache-Control', 'no-store');
  try {
    const out = await fn();
    metrics.done(route, 'ok', performance.now() - start);
    return out;
  } catch (e) {
    const bad = e instanceof BadRequest;
    const missing = e instanceof MQError && notFound.has(e.code);
    metrics.done(route, bad ? 'bad_request' : missing ? 'not_found' : 'error', performance.now() - start);
    if (!bad && !missing) log.warn(`${route}: ${(e as Error).message}`);
    res.status(bad ? 400 : missing ? 404 : 502);
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    return { error: (e as Error).message };
  }
}
