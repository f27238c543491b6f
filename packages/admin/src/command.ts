// What an mqadmin command is, and the helpers commands share to read their options.
import type { ClientLogger } from '@rocketmq-ts/client';
import type { TlsClientOptions } from '@rocketmq-ts/remoting';
import type { MQAdmin } from './admin.js';

/** Where a run writes, and the environment it reads (tests pass their own). */
export interface CliIO {
  out(s: string): void;
  err(s: string): void;
  env: Record<string, string | undefined>;
}

export interface OptSpec {
  short: string;
  long: string;
  desc: string;
  required?: boolean;
  /** Takes no value (its presence means true). */
  flag?: boolean;
}

/** What a command's run() gets: the parsed options and a connected admin client. */
export interface CommandContext {
  admin: MQAdmin;
  opt: (short: string) => string | undefined;
  has: (short: string) => boolean;
  json: boolean;
  io: CliIO;
  namesrv: string[];
  /** Client options for SDK objects (producers, consumers) the command creates. */
  clientOpts: { namesrvAddr: string[]; logger: ClientLogger; useTLS?: boolean; tls?: TlsClientOptions; accessKey?: string; secretKey?: string };
}

export interface Command {
  name: string;
  /** One line for `mqadmin help`. */
  desc: string;
  /** Options besides -n, -h and --json, which every command takes. */
  opts: OptSpec[];
  run(ctx: CommandContext): Promise<void>;
}

export const opt = (short: string, long: string, desc: string, required = false, flag = false): OptSpec => ({ short, long, desc, required, flag });

/** Bad input: reported with the command's usage. */
export class UsageError extends Error {}

export const bool = (v: string | undefined, d: boolean): boolean => (v === undefined ? d : v.trim().toLowerCase() === 'true');

export const int = (v: string | undefined, d: number, name: string): number => {
  if (v === undefined) return d;
  const n = Number(v);
  if (!Number.isInteger(n)) throw new UsageError(`${name} must be an integer, got "${v}"`);
  return n;
};

/** "now", epoch ms, or yyyy-MM-dd#HH:mm:ss:SSS (mqadmin's formats). */
export function parseTimestamp(v: string): number {
  if (v === 'now') return Date.now();
  if (/^-?\d+$/.test(v)) return Number(v);
  const m = /^(\d{4})-(\d{2})-(\d{2})#(\d{2}):(\d{2}):(\d{2})(?::(\d{3}))?$/.exec(v);
  if (!m) throw new UsageError(`bad timestamp "${v}": use now, milliseconds, or yyyy-MM-dd#HH:mm:ss:SSS`);
  return new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]), Number(m[7] ?? 0)).getTime();
}

/** Broker addresses from -b or from the masters of -c (one of them is required). */
export async function targets(ctx: CommandContext): Promise<string[]> {
  const b = ctx.opt('b');
  const c = ctx.opt('c');
  if (b) return [b];
  if (!c) throw new UsageError('give a broker address (-b) or a cluster name (-c)');
  return (await ctx.admin.masterAddrs({ cluster: c })).map((m) => m.addr);
}
