import { readFileSync, statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { Logger } from '../logger.js';
import { AclConfigError, parsePlainAcl, type AclRules } from './plain-acl-config.js';

/** How often the file's modification time is looked at (RocketMQ's file watch checks about every 500 ms). */
export const ACL_FILE_POLL_MS = 500;

function stamp(path: string): string {
  const s = statSync(path);
  return `${s.mtimeMs}:${s.size}:${s.ino}`;
}

/**
 * plain_acl.yml kept current: read at start (a missing or broken file fails start-up), then
 * re-read whenever its mtime, size or inode changes. A changed file that does not parse is
 * logged and the rules in force stay.
 */
export class AclFile {
  private current: AclRules;
  private seen: string;
  private timer: NodeJS.Timeout | null = null;
  /** Bumped on each successful reload (tests and logs). */
  version = 1;

  constructor(
    readonly path: string,
    private readonly log: Logger,
  ) {
    this.seen = stamp(path);
    this.current = AclFile.read(path);
  }

  /** Reads and parses; throws AclConfigError (with the path) or the fs error. */
  static read(path: string): AclRules {
    const text = readFileSync(path, 'utf8');
    try {
      return parsePlainAcl(text);
    } catch (e) {
      if (e instanceof AclConfigError) throw new AclConfigError(`${path}: ${e.message}`);
      throw e;
    }
  }

  get rules(): AclRules {
    return this.current;
  }

  /** Starts watching (idempotent). */
  watch(intervalMs = ACL_FILE_POLL_MS): this {
    if (this.timer !== null) return this;
    this.timer = setInterval(() => this.poll(), intervalMs);
    this.timer.unref();
    return this;
  }

  /** One look at the file; reloads when it changed. */
  poll(): void {
    let now: string;
    try {
      now = stamp(this.path);
    } catch (e) {
      if (this.seen !== 'missing') this.log.error(`ACL file ${this.path} is unreadable (${(e as Error).message}); keeping the rules in force`);
      this.seen = 'missing';
      return;
    }
    if (now === this.seen) return;
    this.seen = now;
    try {
      this.current = AclFile.read(this.path);
      this.version++;
      this.log.info(
        `ACL file ${this.path} reloaded: ${this.current.accounts.size} accounts, ${this.current.globalWhiteRemoteAddresses.length} global white addresses`,
      );
    } catch (e) {
      this.log.error(`ACL file ${this.path} changed but cannot be used (${(e as Error).message}); keeping the rules in force`);
    }
  }

  close(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }
}

/** RocketMQ's place for the ACL 1.0 file, under the RocketMQ home. */
export const DEFAULT_PLAIN_ACL_FILE = 'conf/plain_acl.yml';

/** `configured` if set (relative = under the home), else `<home>/conf/plain_acl.yml`; home defaults to ROCKETMQ_HOME, then the working directory. */
export function resolveAclFilePath(rocketmqHome: string, configured: string, env: NodeJS.ProcessEnv = process.env): string {
  const home = rocketmqHome || env['ROCKETMQ_HOME'] || process.cwd();
  const p = configured || DEFAULT_PLAIN_ACL_FILE;
  return isAbsolute(p) ? p : resolve(home, p);
}
