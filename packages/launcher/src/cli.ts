#!/usr/bin/env node
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeExit, Launcher } from './launcher.js';
import { listTopologies, TopologyError } from './topology.js';

const USAGE = `usage: rocketmq-ts <topology> [--root <repoRoot>] [--ready-timeout <ms>] [--grace <ms>] [--keep-going]

Starts every process listed in infra/conf/<topology>/topology.json, in order, each as
node apps/<app>/dist/main.js -c infra/conf/<topology>/<config>, from the repo root.
Output is prefixed with the process name and appended to logs/<name>.log.
Ctrl-C stops them all (SIGTERM, then SIGKILL after the grace period). A process that exits by
itself stops the others too, unless --keep-going (to try failures: kill a master, keep the rest).`;

interface CliArgs {
  topology?: string;
  root?: string;
  readyTimeoutMs?: number;
  graceMs?: number;
  keepGoing: boolean;
  help: boolean;
}

function parseArgs(argv: string[]): CliArgs {
  const out: CliArgs = { help: false, keepGoing: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string => {
      const eq = a.indexOf('=');
      if (eq > 0) return a.slice(eq + 1);
      const v = argv[++i];
      if (v === undefined) throw new TopologyError(`option ${a} needs a value`);
      return v;
    };
    const ms = (): number => {
      const v = value();
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0) throw new TopologyError(`option ${a.split('=')[0]} needs a number of milliseconds, got "${v}"`);
      return n;
    };
    if (a === '-h' || a === '--help') out.help = true;
    else if (a === '--root' || a.startsWith('--root=')) out.root = value();
    else if (a === '--ready-timeout' || a.startsWith('--ready-timeout=')) out.readyTimeoutMs = ms();
    else if (a === '--grace' || a.startsWith('--grace=')) out.graceMs = ms();
    else if (a === '--keep-going') out.keepGoing = true;
    else if (a.startsWith('-')) throw new TopologyError(`unknown option ${a}`);
    else if (out.topology === undefined) out.topology = a;
    else throw new TopologyError(`unexpected argument "${a}"`);
  }
  return out;
}

function findRoot(from: string): string | undefined {
  let dir = resolve(from);
  for (;;) {
    if (existsSync(join(dir, 'pnpm-workspace.yaml'))) return dir;
    const up = dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

function fail(message: string, code = 1): never {
  process.stderr.write(`rocketmq-ts: ${message}\n`);
  process.exit(code);
}

async function main(): Promise<void> {
  let args: CliArgs;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (e) {
    fail(`${(e as Error).message}\n${USAGE}`, 2);
  }
  if (args.help) {
    process.stdout.write(USAGE + '\n');
    return;
  }
  const root = args.root !== undefined ? resolve(args.root) : (findRoot(process.cwd()) ?? findRoot(dirname(fileURLToPath(import.meta.url))));
  if (root === undefined) fail('cannot find the repo root (no pnpm-workspace.yaml above the current directory); pass --root');
  if (args.topology === undefined) {
    const known = listTopologies(root);
    fail(`which topology? ${known.length ? `known: ${known.join(', ')}` : 'none under infra/conf'}\n${USAGE}`, 2);
  }

  let launcher: Launcher;
  try {
    launcher = new Launcher({
      root,
      topology: args.topology,
      ...(args.readyTimeoutMs !== undefined ? { readyTimeoutMs: args.readyTimeoutMs } : {}),
      ...(args.graceMs !== undefined ? { graceMs: args.graceMs } : {}),
    });
    await launcher.preflight();
  } catch (e) {
    if (e instanceof TopologyError) fail(e.message);
    throw e;
  }

  let exiting = false;
  const shutdown = async (code: number, message?: string): Promise<void> => {
    if (exiting) return;
    exiting = true;
    await launcher.stop();
    if (message) process.stderr.write(`rocketmq-ts: ${message}\n`);
    else launcher.say('all processes stopped');
    process.exit(code);
  };

  let signals = 0;
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      if (++signals > 1) {
        launcher.say(`received ${sig} again, killing everything`);
        launcher.killAll();
        return;
      }
      launcher.say(`received ${sig}, stopping`);
      void shutdown(0);
    });
  }

  try {
    await launcher.start((name, code, sig) => {
      if (args.keepGoing) {
        launcher.say(`${name} exited (${describeExit(code, sig)}); the others keep running (--keep-going)`);
        return;
      }
      launcher.say(`${name} exited unexpectedly (${describeExit(code, sig)}), stopping the others`);
      void shutdown(1, `${name} exited unexpectedly (${describeExit(code, sig)}) — see logs/${name}.log`);
    });
  } catch (e) {
    if (e instanceof TopologyError) return shutdown(1, e.message);
    throw e;
  }
  if (exiting) return;
  const of = (app: string): string[] => launcher.plan.processes.filter((p) => p.app === app).map((p) => `127.0.0.1:${p.readyPort.port}`);
  const [ns, proxies, consoles] = [of('nameserver'), of('proxy'), of('dashboard')];
  const hints = [
    ...(ns.length ? [`remoting clients use NAMESRV_ADDR=${ns.join(';')}`] : []),
    ...(proxies.length ? [`5.x clients use endpoints ${proxies.join(';')}`] : []),
    ...(consoles.length ? [`the console is at ${consoles.map((a) => `http://${a}/`).join(' ')}`] : []),
  ];
  launcher.say(`cluster "${args.topology}" is ready: ${launcher.addresses().join('; ')}` + (hints.length ? ` — ${hints.join(', ')}` : ''));
}

main().catch((e: unknown) => fail(e instanceof Error ? (e.stack ?? e.message) : String(e)));
