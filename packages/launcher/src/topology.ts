import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ConfigError, envNameOf, loadConfig, type ConfigSchema } from '@rocketmq-ts/common';

/** `infra/conf/<topology>/topology.json` as written. */
export interface TopologyFile {
  processes: {
    name: string;
    /** Folder under apps/, started as `node apps/<app>/dist/main.js -c <config>`. */
    app: string;
    /** Properties file beside topology.json. */
    config: string;
    env?: Record<string, string>;
  }[];
}

export interface PortUse {
  /** Property that sets it, e.g. `listenPort`. */
  property: string;
  port: number;
  /** How the value was decided, for error messages. */
  from: 'file' | 'env' | 'override' | 'default';
}

export interface ProcessPlan {
  name: string;
  app: string;
  /** Absolute path of apps/<app>/dist/main.js. */
  main: string;
  /** Absolute and repo-relative paths of the conf file. */
  configPath: string;
  configRel: string;
  /** Environment added for this process. */
  env: Record<string, string>;
  /** Node.js options before the script (APP_NODE_ARGS). */
  nodeArgs: string[];
  /** The port whose accepting connections means "started". */
  readyPort: PortUse;
  /** Every port this process will bind, readyPort first. */
  ports: PortUse[];
}

export interface TopologyPlan {
  name: string;
  root: string;
  dir: string;
  processes: ProcessPlan[];
}

export class TopologyError extends Error {
  override readonly name = 'TopologyError';
}

/**
 * Node.js options an app is started with, wherever it is started (this launcher, the container's
 * entrypoint, the benchmarks). The broker's young generation is capped at 8 MiB a semi-space
 * (V8's default on a large machine is 16): its requests allocate mostly Buffers that die young,
 * and a young generation half the size is collected twice as often, so their memory goes back sooner
 * (BENCHMARKS.md, "Broker memory"). Its old generation may grow to twice what the last full
 * collection left before the next one (V8 lets a large machine's heap grow up to 4×): requests in
 * flight survive young collections and are promoted, then die, and with 4× that dead memory took
 * the heap to ~110 MB around ~25 MB of live objects (BENCHMARKS.md, "Round 5").
 */
export const APP_NODE_ARGS: Readonly<Record<string, readonly string[]>> = {
  broker: ['--max-semi-space-size=8', '--heap-growing-percent=100'],
};

/**
 * Per app: which property holds its main port and that port's default when the conf omits it, and
 * the default of its metricsPromExporterPort (the apps' own defaults; 0 = off).
 */
const APP_PORTS: Record<string, { main: { property: string; default?: number }; metricsDefault?: number }> = {
  nameserver: { main: { property: 'listenPort', default: 9876 }, metricsDefault: 9880 },
  broker: { main: { property: 'listenPort', default: 10911 }, metricsDefault: 5557 },
  proxy: { main: { property: 'grpcServerPort', default: 8081 }, metricsDefault: 5561 },
  // The console serves its pages, /api and /metrics on its one HTTP port.
  dashboard: { main: { property: 'listenPort', default: 8082 } },
};

const PORT_SCHEMA = {
  listenPort: { type: 'int', default: 0, min: 0, max: 65535 },
  grpcServerPort: { type: 'int', default: 0, min: 0, max: 65535 },
  haListenPort: { type: 'int', default: 0, min: 0, max: 65535 },
  metricsPromExporterPort: { type: 'int', default: 0, min: 0, max: 65535 },
} satisfies ConfigSchema;

export function listTopologies(root: string): string[] {
  const base = join(root, 'infra', 'conf');
  if (!existsSync(base)) return [];
  return readdirSync(base, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(base, d.name, 'topology.json')))
    .map((d) => d.name)
    .sort();
}

/**
 * Reads a topology and each process's conf (with the environment the process will get, so a
 * `ROCKETMQ_LISTEN_PORT` in topology.json counts), and works out the ports every process binds.
 */
export function loadTopology(root: string, name: string, baseEnv: Record<string, string | undefined> = process.env): TopologyPlan {
  const dir = join(root, 'infra', 'conf', name);
  const file = join(dir, 'topology.json');
  if (!existsSync(file)) {
    const known = listTopologies(root);
    throw new TopologyError(`no topology "${name}": ${relative(root, file)} does not exist` + (known.length ? ` (known: ${known.join(', ')})` : ''));
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new TopologyError(`${relative(root, file)} is not valid JSON: ${(e as Error).message}`);
  }
  const topo = validate(parsed, relative(root, file));

  const processes = topo.processes.map((p): ProcessPlan => {
    const configPath = join(dir, p.config);
    const configRel = relative(root, configPath);
    if (!existsSync(configPath)) throw new TopologyError(`${p.name}: config file ${configRel} does not exist`);
    const env = p.env ?? {};
    let loaded;
    try {
      loaded = loadConfig(PORT_SCHEMA, { file: configPath, env: { ...baseEnv, ...env } });
    } catch (e) {
      if (e instanceof ConfigError) throw new TopologyError(`${p.name}: ${configRel}: ${e.message}`);
      throw e;
    }
    const { config, origin } = loaded;
    const use = (property: keyof typeof PORT_SCHEMA): PortUse | undefined => {
      const from = origin.get(property);
      return from ? { property, port: config[property], from } : undefined;
    };

    const spec = APP_PORTS[p.app];
    const mainSpec = spec?.main ?? { property: 'listenPort' };
    const main =
      use(mainSpec.property as keyof typeof PORT_SCHEMA) ??
      (mainSpec.default !== undefined ? { property: mainSpec.property, port: mainSpec.default, from: 'default' as const } : undefined);
    if (!main || main.port === 0) {
      throw new TopologyError(`${p.name}: ${configRel} must set ${mainSpec.property} (the launcher waits for that port)`);
    }
    const ports: PortUse[] = [main];
    if (p.app === 'broker') ports.push(use('haListenPort') ?? { property: 'haListenPort', port: main.port + 1, from: 'default' });
    const metrics =
      use('metricsPromExporterPort') ??
      (spec?.metricsDefault !== undefined ? { property: 'metricsPromExporterPort', port: spec.metricsDefault, from: 'default' as const } : undefined);
    if (metrics && metrics.port > 0) ports.push(metrics);

    return {
      name: p.name,
      app: p.app,
      main: join(root, 'apps', p.app, 'dist', 'main.js'),
      configPath,
      configRel,
      env,
      nodeArgs: [...(APP_NODE_ARGS[p.app] ?? [])],
      readyPort: main,
      ports,
    };
  });

  // Two processes of one topology binding the same port can never both start.
  const owners = new Map<number, string>();
  for (const p of processes) {
    for (const u of p.ports) {
      const other = owners.get(u.port);
      if (other) throw new TopologyError(`port ${u.port} is used twice: by ${other} and by ${p.name} ${u.property} (${p.configRel})`);
      owners.set(u.port, `${p.name} ${u.property}`);
    }
  }
  return { name, root, dir, processes };
}

/** Human wording of where a port number came from, for "change it here" hints. */
export function portSource(p: ProcessPlan, u: PortUse): string {
  switch (u.from) {
    case 'file':
      return `change ${u.property} in ${p.configRel}`;
    case 'env':
      return `change ${envNameOf(u.property)} in the environment or topology.json`;
    case 'override':
      return `change the ${u.property} override`;
    case 'default':
      return u.property === 'haListenPort'
        ? `set haListenPort in ${p.configRel} (it defaults to listenPort+1)`
        : `set ${u.property} in ${p.configRel} (it defaults to ${u.port})`;
  }
}

function validate(v: unknown, where: string): TopologyFile {
  const fail = (msg: string): never => {
    throw new TopologyError(`${where}: ${msg}`);
  };
  if (typeof v !== 'object' || v === null || !Array.isArray((v as { processes?: unknown }).processes)) fail('expected { "processes": [ ... ] }');
  const list = (v as { processes: unknown[] }).processes;
  if (list.length === 0) fail('"processes" is empty');
  const names = new Set<string>();
  list.forEach((p, i) => {
    const at = `processes[${i}]`;
    if (typeof p !== 'object' || p === null) fail(`${at} is not an object`);
    const o = p as Record<string, unknown>;
    for (const k of ['name', 'app', 'config'] as const) {
      if (typeof o[k] !== 'string' || o[k] === '') fail(`${at}.${k} must be a non-empty string`);
    }
    if (!/^[A-Za-z0-9._-]+$/.test(o['name'] as string)) fail(`${at}.name "${String(o['name'])}" may only use letters, digits, . _ -`);
    if (!/^[A-Za-z0-9._-]+$/.test(o['app'] as string)) fail(`${at}.app "${String(o['app'])}" is not a folder name under apps/`);
    if (names.has(o['name'] as string)) fail(`process name "${String(o['name'])}" appears twice`);
    names.add(o['name'] as string);
    if (o['env'] !== undefined) {
      if (typeof o['env'] !== 'object' || o['env'] === null || Array.isArray(o['env'])) fail(`${at}.env must be an object`);
      for (const [k, val] of Object.entries(o['env'] as object)) {
        if (typeof val !== 'string') fail(`${at}.env.${k} must be a string`);
      }
    }
  });
  return v as TopologyFile;
}
