import { LatencyRecorder } from './stats.js';

export interface WindowResult {
  messages: number;
  requests: number;
  elapsedMs: number;
  latency: LatencyRecorder;
  errors: number;
  firstError?: string;
}

/**
 * Keeps `inflight` requests outstanding until `requests` have completed or `maxMs` has passed.
 * `send(i)` performs one request (carrying `perRequest` messages) and resolves on acknowledgement;
 * each request's round trip goes into the latency recorder.
 */
export async function runWindow(opts: {
  inflight: number;
  requests: number;
  perRequest: number;
  maxMs: number;
  send: (i: number) => Promise<unknown>;
}): Promise<WindowResult> {
  const latency = new LatencyRecorder(Math.min(opts.requests, 4_000_000));
  let next = 0;
  let done = 0;
  let errors = 0;
  let firstError: string | undefined;
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(opts.maxMs) * 1_000_000n;
  const lane = async (): Promise<void> => {
    while (next < opts.requests) {
      const i = next++;
      const t0 = process.hrtime.bigint();
      if (t0 > deadline) return;
      try {
        await opts.send(i);
        latency.record(Number(process.hrtime.bigint() - t0) / 1000);
        done++;
      } catch (e) {
        errors++;
        firstError ??= (e as Error).message;
        if (errors > 100) throw new Error(`too many errors, first: ${firstError}`, { cause: e });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, opts.inflight) }, lane));
  const elapsedMs = Number(process.hrtime.bigint() - start) / 1e6;
  const r: WindowResult = { messages: done * opts.perRequest, requests: done, elapsedMs, latency, errors };
  if (firstError !== undefined) r.firstError = firstError;
  return r;
}
