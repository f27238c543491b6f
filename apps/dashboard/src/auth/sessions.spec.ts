import { afterEach, describe, expect, it } from '@jest/globals';
import { SessionStore, cookieValue } from './sessions.js';

describe('cookieValue', () => {
  it('finds the named cookie among others', () => {
    expect(cookieValue('a=1; rmq_console_session=abc%2Bd; b=2', 'rmq_console_session')).toBe('abc+d');
    expect(cookieValue('a=1', 'rmq_console_session')).toBeUndefined();
    expect(cookieValue(undefined, 'x')).toBeUndefined();
  });
});

describe('SessionStore', () => {
  let store: SessionStore | undefined;
  afterEach(async () => store?.closeAll());

  it('gives random ids, forgets a session after its idle time, and on sign-out', async () => {
    store = new SessionStore({ namesrvAddr: '127.0.0.1:1', adminTimeoutMillis: 100, sessionIdleTimeoutMs: 1000 });
    const a = store.add('ak1', store.clients('ak1', 'sk1'));
    const b = store.add('ak1', store.clients('ak1', 'sk1'));
    expect(a).not.toBe(b);
    expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(store.get(a)?.accessKey).toBe('ak1');
    // Each session has its own signing client, even for the same access key.
    expect(store.get(a)?.admin).not.toBe(store.get(b)?.admin);
    expect(JSON.stringify(store.get(a))).toBe('{"accessKey":"ak1"}'); // never the clients holding the secret
    await store.remove(b);
    expect(store.get(b)).toBeUndefined();
    const realNow = Date.now;
    try {
      Date.now = () => realNow() + 1500;
      expect(store.get(a)).toBeUndefined();
    } finally {
      Date.now = realNow;
    }
    expect(store.size).toBe(0);
  });
});
