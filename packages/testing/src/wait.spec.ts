import { describe, expect, it } from '@jest/globals';
import { waitFor } from './wait.js';

describe('waitFor', () => {
  it('returns the first truthy value', async () => {
    let n = 0;
    const v = await waitFor(() => (++n >= 3 ? `try ${n}` : undefined), { intervalMs: 1 });
    expect(v).toBe('try 3');
  });

  it('treats a throw as not ready yet', async () => {
    let n = 0;
    const v = await waitFor(
      async () => {
        if (++n < 3) throw new Error('not yet');
        return n;
      },
      { intervalMs: 1 },
    );
    expect(v).toBe(3);
  });

  it('times out with the message and the last error', async () => {
    const started = Date.now();
    await expect(
      waitFor(
        () => {
          throw new Error('still down');
        },
        { timeoutMs: 100, intervalMs: 10, message: 'the broker' },
      ),
    ).rejects.toThrow(/timed out after 100 ms waiting for the broker; last error: still down/);
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});
