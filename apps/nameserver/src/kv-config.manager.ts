import { closeSync, copyFileSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { jsonEntries, parseLenientJson, stringifyFastjson } from '@rocketmq-ts/protocol';
import type { Logger } from '@rocketmq-ts/remoting';

/**
 * The name server's only persistent state: `namespace → key → value`, stored as
 * `{"configTable":{"<namespace>":{"k":"v"}}}`. Every change rewrites the file safely: the old
 * file is copied to `<file>.bak`, the new content goes to `<file>.tmp`, is fsynced, then renamed
 * over the file. On load, `.bak` is used when the file is missing or unreadable.
 */
export class KvConfigManager {
  private readonly table = new Map<string, Map<string, string>>();

  constructor(
    readonly path: string,
    private readonly log: Logger,
  ) {}

  /** Loads the file; returns the number of entries. */
  load(): number {
    for (const candidate of [this.path, this.path + '.bak']) {
      if (!existsSync(candidate)) continue;
      try {
        this.readFrom(candidate);
        if (candidate !== this.path) this.log.warn(`${this.path} missing or unreadable, loaded ${candidate}`);
        return this.size;
      } catch (e) {
        this.log.warn(`cannot read KV config ${candidate}: ${(e as Error).message}`);
      }
    }
    return 0;
  }

  private readFrom(file: string): void {
    const text = readFileSync(file, 'utf8');
    const next = new Map<string, Map<string, string>>();
    if (text.trim() !== '') {
      const root = parseLenientJson(text);
      const obj = root !== null && typeof root === 'object' && !Array.isArray(root) && !(root instanceof Map) ? root : null;
      if (obj === null) throw new Error('not a JSON object');
      for (const [ns, kv] of jsonEntries(obj['configTable'] ?? null)) {
        const m = new Map<string, string>();
        for (const [k, v] of jsonEntries(kv)) m.set(String(k), typeof v === 'string' ? v : JSON.stringify(v));
        next.set(String(ns), m);
      }
    }
    this.table.clear();
    for (const [k, v] of next) this.table.set(k, v);
  }

  get size(): number {
    let n = 0;
    for (const m of this.table.values()) n += m.size;
    return n;
  }

  put(namespace: string, key: string, value: string): void {
    let m = this.table.get(namespace);
    if (m === undefined) this.table.set(namespace, (m = new Map()));
    const prev = m.get(key);
    m.set(key, value);
    this.log.info(prev === undefined ? `KV config added: ${namespace} ${key}=${value}` : `KV config updated: ${namespace} ${key}: ${prev} -> ${value}`);
    this.persist();
  }

  get(namespace: string, key: string): string | undefined {
    return this.table.get(namespace)?.get(key);
  }

  delete(namespace: string, key: string): void {
    const m = this.table.get(namespace);
    if (m === undefined || !m.has(key)) return;
    m.delete(key);
    if (m.size === 0) this.table.delete(namespace);
    this.log.info(`KV config deleted: ${namespace} ${key}`);
    this.persist();
  }

  namespace(namespace: string): ReadonlyMap<string, string> | undefined {
    return this.table.get(namespace);
  }

  toJson(): string {
    return '{"configTable":' + stringifyFastjson(this.table) + '}';
  }

  persist(): void {
    const text = this.toJson();
    try {
      mkdirSync(dirname(this.path), { recursive: true });
      if (existsSync(this.path)) copyFileSync(this.path, this.path + '.bak');
      const tmp = this.path + '.tmp';
      const fd = openSync(tmp, 'w');
      try {
        writeSync(fd, text);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, this.path);
    } catch (e) {
      this.log.error(`cannot persist KV config to ${this.path}`, e);
    }
  }
}
