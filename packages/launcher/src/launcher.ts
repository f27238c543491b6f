import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, type WriteStream } from 'node:fs';
import { join, relative } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { canConnect, probePort } from './net.js';
import { loadTopology, portSource, TopologyError, type ProcessPlan, type TopologyPlan } from './topology.js';

export interface LauncherOptions {
  root: string;
  topology: string;
  /** How long one process may take to accept connections on its main port (default 60 s). */
  readyTimeoutMs?: number;
  /** Between SIGTERM and SIGKILL when stopping (default 10 s). */
  graceMs?: number;
  /** Where prefixed output goes (default process.stdout / process.stderr). */
  stdout?: NodeJS.WritableStream & { isTTY?: boolean };
  stderr?: NodeJS.WritableStream;
  env?: Record<string, string | undefined>;
}

interface Running {
  plan: ProcessPlan;
  child: ChildProcess;
  log: WriteStream;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  done: boolean;
}

const COLOURS = [36, 35, 33, 32, 34, 91, 96, 95, 93, 92];
const SELF = 'launcher';

/** Starts a topology's processes in order, relays their output, and stops them together. */
export class Launcher {
  readonly plan: TopologyPlan;
  private readonly running: Running[] = [];
  private stopping: Promise<void> | undefined;
  private readonly width: number;
  private readonly colour: boolean;
  private readonly out: NodeJS.WritableStream;
  private readonly err: NodeJS.WritableStream;
  private readonly env: Record<string, string | undefined>;
  private unexpectedExit: ((name: string, code: number | null, signal: NodeJS.Signals | null) => void) | undefined;

  constructor(private readonly opts: LauncherOptions) {
    this.env = opts.env ?? process.env;
    this.plan = loadTopology(opts.root, opts.topology, this.env);
    this.out = opts.stdout ?? process.stdout;
    this.err = opts.stderr ?? process.stderr;
    this.colour = Boolean((opts.stdout ?? process.stdout).isTTY) && !this.env['NO_COLOR'];
    this.width = Math.max(SELF.length, ...this.plan.processes.map((p) => p.name.length));
  }

  /** Throws a TopologyError naming the first problem: an unknown app, an app not built, or a port already taken. */
  async preflight(): Promise<void> {
    const unknown = [...new Set(this.plan.processes.filter((p) => !existsSync(join(this.opts.root, 'apps', p.app))).map((p) => p.app))];
    if (unknown.length > 0) {
      throw new TopologyError(
        unknown.map((a) => `no app "${a}": apps/${a} does not exist`).join('; ') + ` — check the "app" entries of ${this.topologyFile()}`,
      );
    }
    const missing = this.plan.processes.filter((p) => !existsSync(p.main));
    if (missing.length > 0) {
      const apps = [...new Set(missing.map((p) => p.app))];
      throw new TopologyError(
        apps.map((a) => `app "${a}" is not built: apps/${a}/dist/main.js is missing`).join('; ') + ' — run `pnpm build` (or `pnpm turbo run build`) first',
      );
    }
    for (const p of this.plan.processes) {
      for (const u of p.ports) {
        const state = await probePort(u.port);
        if (state === 'in-use') {
          throw new TopologyError(`port ${u.port} (${p.name} ${u.property}) is already in use — stop the other process or ${portSource(p, u)}`);
        }
        if (state === 'denied') throw new TopologyError(`port ${u.port} (${p.name} ${u.property}) cannot be bound without privileges — ${portSource(p, u)}`);
      }
    }
  }

  /**
   * Starts the processes one by one, each after the previous one accepts connections. Calls
   * `onUnexpectedExit` if any process exits while the launcher is not stopping.
   */
  async start(onUnexpectedExit: (name: string, code: number | null, signal: NodeJS.Signals | null) => void): Promise<void> {
    this.unexpectedExit = onUnexpectedExit;
    const logDir = join(this.opts.root, 'logs');
    mkdirSync(logDir, { recursive: true });
    const timeoutMs = this.opts.readyTimeoutMs ?? 60_000;

    for (const plan of this.plan.processes) {
      if (this.stopping) return;
      const r = this.spawn(plan, join(logDir, `${plan.name}.log`));
      this.say(`started ${plan.name} (pid ${r.child.pid}): node apps/${plan.app}/dist/main.js -c ${plan.configRel}`);
      const port = plan.readyPort.port;
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        if (this.stopping) return;
        if (r.done) return; // its exit was reported through onUnexpectedExit
        if (await canConnect(port)) break;
        if (Date.now() > deadline) {
          throw new TopologyError(
            `${plan.name} did not accept connections on port ${port} (${plan.readyPort.property}) within ${Math.round(timeoutMs / 1000)} s — see logs/${plan.name}.log`,
          );
        }
        await sleep(100);
      }
    }
  }

  /** One entry per process: its main address, then its other ports. */
  addresses(): string[] {
    return this.plan.processes.map((p) => {
      const extra = p.ports
        .filter((u) => u !== p.readyPort)
        .map((u) => (u.property === 'metricsPromExporterPort' ? `metrics http://127.0.0.1:${u.port}/metrics` : `${u.property} ${u.port}`));
      return `${p.name} 127.0.0.1:${p.readyPort.port}` + (extra.length ? ` (${extra.join(', ')})` : '');
    });
  }

  /** SIGTERM to every running process by pid, SIGKILL to those still there after the grace period. */
  stop(): Promise<void> {
    this.stopping ??= this.stopAll();
    return this.stopping;
  }

  /** Second Ctrl-C: no more patience. */
  killAll(): void {
    for (const r of this.running) if (!r.done && r.child.pid) signal(r.child.pid, 'SIGKILL');
  }

  private topologyFile(): string {
    return relative(this.opts.root, join(this.plan.dir, 'topology.json'));
  }

  say(line: string): void {
    this.out.write(`${this.prefix(SELF, 0)}${line}\n`);
  }

  /**
   * Stops in reverse start order, a group of neighbouring processes of the same app at a time
   * (e.g. the proxy, then all brokers, then the name servers), so a broker can still unregister
   * from the name servers while it shuts down.
   */
  private async stopAll(): Promise<void> {
    const graceMs = this.opts.graceMs ?? 10_000;
    const alive = this.running.filter((r) => !r.done);
    if (alive.length > 0) {
      this.say(
        `stopping ${[...alive]
          .reverse()
          .map((r) => r.plan.name)
          .join(', ')}`,
      );
    }
    const groups: Running[][] = [];
    for (const r of [...alive].reverse()) {
      const last = groups[groups.length - 1];
      if (last && last[0]!.plan.app === r.plan.app) last.push(r);
      else groups.push([r]);
    }
    for (const group of groups) {
      for (const r of group) if (r.child.pid && !r.done) signal(r.child.pid, 'SIGTERM');
      await Promise.all(
        group.map(async (r) => {
          let timer: NodeJS.Timeout | undefined;
          const late = new Promise<'late'>((res) => (timer = setTimeout(() => res('late'), graceMs)));
          if ((await Promise.race([r.exited, late])) === 'late' && r.child.pid) {
            this.say(`${r.plan.name} did not stop within ${graceMs} ms, sending SIGKILL`);
            signal(r.child.pid, 'SIGKILL');
          }
          clearTimeout(timer);
          await r.exited;
        }),
      );
    }
    await Promise.all(this.running.map((r) => new Promise<void>((res) => r.log.end(() => res()))));
  }

  private spawn(plan: ProcessPlan, logPath: string): Running {
    const index = this.running.length;
    const log = createWriteStream(logPath, { flags: 'a' });
    const nodeArgs = plan.nodeArgs.length > 0 ? `${plan.nodeArgs.join(' ')} ` : '';
    log.write(`--- ${new Date().toISOString()} launcher starts ${plan.name}: node ${nodeArgs}${relative(this.opts.root, plan.main)} -c ${plan.configRel}\n`);
    // Own process group: a Ctrl-C in the terminal reaches only the launcher, which then stops
    // the processes in order instead of racing their own shutdown against our exit handling.
    const child = spawn(process.execPath, [...plan.nodeArgs, plan.main, '-c', plan.configRel], {
      cwd: this.opts.root,
      env: { ...this.env, ...plan.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const prefix = this.prefix(plan.name, index + 1);
    const pipe = (stream: NodeJS.ReadableStream, to: NodeJS.WritableStream): Promise<void> =>
      new Promise((res) => {
        const rl = createInterface({ input: stream, crlfDelay: Infinity });
        rl.on('line', (line) => {
          to.write(prefix + line + '\n');
          log.write(line + '\n');
        });
        rl.once('close', res);
      });
    const drained = Promise.all([pipe(child.stdout!, this.out), pipe(child.stderr!, this.err)]);
    const r: Running = {
      plan,
      child,
      log,
      done: false,
      exited: new Promise((resolve) => {
        let spawnError: Error | undefined;
        child.once('error', (e) => (spawnError = e));
        child.once('exit', (code, sig) => {
          void drained.then(() => {
            r.done = true;
            if (spawnError) this.say(`${plan.name} could not start: ${spawnError.message}`);
            log.write(`--- ${new Date().toISOString()} ${plan.name} exited (${describeExit(code, sig)})\n`);
            if (!this.stopping) this.unexpectedExit?.(plan.name, code, sig);
            resolve({ code, signal: sig });
          });
        });
      }),
    };
    this.running.push(r);
    return r;
  }

  private prefix(name: string, index: number): string {
    const padded = name.padEnd(this.width);
    if (!this.colour) return `${padded} | `;
    const c = index === 0 ? 90 : COLOURS[(index - 1) % COLOURS.length]!;
    return `\x1b[${c}m${padded} |\x1b[0m `;
  }
}

export function describeExit(code: number | null, sig: NodeJS.Signals | null): string {
  return sig ? `killed by ${sig}` : `exit code ${code}`;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}
