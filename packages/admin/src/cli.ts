#!/usr/bin/env node
// mqadmin: parses the command line, finds the command in the registry, runs it, prints help.
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ACL_ENV, parseNamesrvAddr, type ClientLogger } from '@rocketmq-ts/client';
import { MQError } from '@rocketmq-ts/protocol';
import type { TlsClientOptions } from '@rocketmq-ts/remoting';
import { MQAdmin } from './admin.js';
import { UsageError, opt, type CliIO, type Command, type CommandContext, type OptSpec } from './command.js';
import { COMMANDS } from './commands/index.js';

export { parseTimestamp, type CliIO } from './command.js';

/** Options every command takes besides its own. */
const N: OptSpec = { short: 'n', long: 'namesrvAddr', desc: 'name server address list, eg: 192.168.0.1:9876;192.168.0.2:9876' };
const H: OptSpec = opt('h', 'help', 'Print help', false, true);
/**
 * TLS options, also taken by every command (long form only; ROCKETMQ_TLS_* variables fill in
 * what they leave out, e.g. ROCKETMQ_TLS_ENABLE=true instead of --useTLS).
 */
const TLS_OPTS: OptSpec[] = [
  { short: 'useTLS', long: 'useTLS', desc: 'connect with TLS', flag: true },
  { short: 'tlsTrustCertPath', long: 'tlsTrustCertPath', desc: 'PEM CA file the servers are verified against (implies --useTLS)' },
  { short: 'tlsCertPath', long: 'tlsCertPath', desc: 'PEM client certificate, for servers that require one' },
  { short: 'tlsKeyPath', long: 'tlsKeyPath', desc: 'PEM private key of --tlsCertPath' },
  { short: 'tlsTestMode', long: 'tlsTestMode', desc: 'TLS without verifying the servers (tests only; implies --useTLS)', flag: true },
];

/** The TLS part of the client options, from the parsed command line. */
function tlsOptions(parsed: ReadonlyMap<string, string | true>): { useTLS?: boolean; tls?: TlsClientOptions } {
  const str = (k: string): string | undefined => {
    const v = parsed.get(k);
    return typeof v === 'string' ? v : undefined;
  };
  const tls: TlsClientOptions = {};
  if (str('tlsTrustCertPath') !== undefined) tls.trustCertPath = str('tlsTrustCertPath');
  if (str('tlsCertPath') !== undefined) tls.certPath = str('tlsCertPath');
  if (str('tlsKeyPath') !== undefined) tls.keyPath = str('tlsKeyPath');
  if (parsed.has('tlsTestMode')) tls.testMode = true;
  const on = parsed.has('useTLS') || Object.keys(tls).length > 0;
  return on ? { useTLS: true, tls } : {};
}
/** ACL 1.0 keys (fall back to ROCKETMQ_ACCESS_KEY / ROCKETMQ_SECRET_KEY): every request is signed. */
const AK: OptSpec = { short: 'ak', long: 'accessKey', desc: 'ACL access key (env ROCKETMQ_ACCESS_KEY)' };
const SK: OptSpec = { short: 'sk', long: 'secretKey', desc: 'ACL secret key (env ROCKETMQ_SECRET_KEY)' };
const COMMON: OptSpec[] = [N, AK, SK];

function usage(): string {
  const w = Math.max(...COMMANDS.map((c) => c.name.length));
  return (
    'usage: mqadmin <command> [-n <namesrvAddr>] [options] [--json]\n\nThe most commonly used mqadmin commands are:\n' +
    COMMANDS.map((c) => `   ${c.name.padEnd(w)}  ${c.desc}`).join('\n') +
    "\n\nSee 'mqadmin help <command>' for more information on a specific command.\n"
  );
}

function commandUsage(c: Command): string {
  const all = [...COMMON, ...c.opts, H];
  const lines = all.map((o) => ` -${o.short},--${o.long}${o.flag ? '' : ` <${o.long}>`}`.padEnd(44) + `${o.desc}${o.required ? ' (required)' : ''}`);
  lines.push(' --json'.padEnd(44) + 'print JSON for scripts');
  for (const o of TLS_OPTS) lines.push(` --${o.long}${o.flag ? '' : ` <${o.long}>`}`.padEnd(44) + o.desc);
  const required = c.opts
    .filter((o) => o.required)
    .map((o) => `-${o.short} <${o.long}>`)
    .join(' ');
  return `usage: mqadmin ${c.name} ${required ? required + ' ' : ''}[options]\n${lines.join('\n')}\n`;
}

/** Options by their short name (`json` for --json); flags map to true. */
function parseArgs(c: Command, args: readonly string[]): Map<string, string | true> {
  const specs = [...COMMON, ...c.opts, H, ...TLS_OPTS];
  const out = new Map<string, string | true>();
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--json') {
      out.set('json', true);
      continue;
    }
    let name: string;
    let inline: string | undefined;
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      name = eq > 0 ? a.slice(2, eq) : a.slice(2);
      inline = eq > 0 ? a.slice(eq + 1) : undefined;
    } else if (a.startsWith('-') && a.length >= 2) {
      name = a.slice(1);
    } else {
      throw new UsageError(`unexpected argument "${a}"`);
    }
    const s = specs.find((o) => o.short === name || o.long === name);
    if (!s) throw new UsageError(`unknown option "${a}" for ${c.name}`);
    if (s.flag) {
      out.set(s.short, true);
      continue;
    }
    const v = inline ?? args[++i];
    if (v === undefined) throw new UsageError(`option -${s.short} (--${s.long}) needs a value`);
    out.set(s.short, v);
  }
  return out;
}

const silentLogger: ClientLogger = { log: () => undefined };

/** Runs one mqadmin command; returns the process exit code. */
export async function runCli(
  argv: readonly string[],
  io: CliIO = { out: (s) => void process.stdout.write(s), err: (s) => void process.stderr.write(s), env: process.env },
): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '-h' || name === '--help' || name === 'help') {
    const sub = name === 'help' ? COMMANDS.find((c) => c.name === rest[0]) : undefined;
    io.out(sub ? commandUsage(sub) : usage());
    return 0;
  }
  const cmd = COMMANDS.find((c) => c.name === name) ?? COMMANDS.find((c) => c.name.toLowerCase() === name.toLowerCase());
  if (!cmd) {
    io.err(`The sub command ${name} does not exist.\n${usage()}`);
    return 1;
  }
  let parsed: Map<string, string | true>;
  try {
    parsed = parseArgs(cmd, rest);
    if (parsed.has('h')) {
      io.out(commandUsage(cmd));
      return 0;
    }
    for (const o of cmd.opts) if (o.required && !parsed.has(o.short)) throw new UsageError(`missing required option -${o.short} (--${o.long})`);
  } catch (e) {
    io.err(`${(e as Error).message}\n${commandUsage(cmd)}`);
    return 1;
  }
  const namesrv = parseNamesrvAddr((parsed.get('n') as string | undefined) ?? io.env['NAMESRV_ADDR']);
  if (namesrv.length === 0) {
    io.err('no name server address: use -n <host:port> or set NAMESRV_ADDR\n');
    return 1;
  }
  const accessKey = (parsed.get('ak') as string | undefined) ?? io.env[ACL_ENV.accessKey];
  const secretKey = (parsed.get('sk') as string | undefined) ?? io.env[ACL_ENV.secretKey];
  if ((accessKey === undefined) !== (secretKey === undefined)) {
    io.err('ACL needs both --accessKey and --secretKey\n');
    return 1;
  }
  const keys = accessKey !== undefined && secretKey !== undefined ? { accessKey, secretKey } : {};
  const tls = tlsOptions(parsed);
  let admin: MQAdmin;
  try {
    admin = new MQAdmin({ namesrvAddr: namesrv, logger: silentLogger, mqClientApiTimeoutMs: 5_000, ...tls, ...keys });
  } catch (e) {
    io.err(`${(e as Error).message}\n`);
    return 1;
  }
  const ctx: CommandContext = {
    admin,
    opt: (s) => {
      const v = parsed.get(s);
      return typeof v === 'string' ? v : undefined;
    },
    has: (s) => parsed.has(s),
    json: parsed.has('json'),
    io,
    namesrv,
    clientOpts: { namesrvAddr: namesrv, logger: silentLogger, ...tls, ...keys },
  };
  try {
    await cmd.run(ctx);
    return 0;
  } catch (e) {
    if (e instanceof UsageError) io.err(`${e.message}\n${commandUsage(cmd)}`);
    else if (e instanceof MQError) io.err(`${cmd.name} command failed: ${e.message}\n`);
    else io.err(`${cmd.name} command failed: ${(e as Error).message ?? String(e)}\n`);
    return 1;
  } finally {
    await admin.shutdown();
  }
}

export const COMMAND_NAMES = COMMANDS.map((c) => c.name);

function isMain(): boolean {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMain()) {
  runCli(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`mqadmin: ${(e as Error).message}\n`);
      process.exit(1);
    },
  );
}
