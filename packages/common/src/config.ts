import { readFileSync } from 'node:fs';
import { parseProperties, stringifyProperties } from './properties.js';

/**
 * Typed configuration with RocketMQ's property names. Each component declares a schema once
 * (name → type and default, with the unit in the name or the description); values come from,
 * later wins: defaults, the `-c` properties file, the environment (`NAMESRV_ADDR`,
 * `ROCKETMQ_<PROPERTY_NAME>` e.g. `ROCKETMQ_LISTEN_PORT`), then explicit overrides (command line).
 */
export type ConfigField =
  | { type: 'string'; default: string; description?: string }
  | { type: 'int' | 'long' | 'double'; default: number; min?: number; max?: number; description?: string }
  | { type: 'bool'; default: boolean; description?: string }
  | { type: 'enum'; default: string; values: readonly string[]; description?: string };

export type ConfigSchema = Record<string, ConfigField>;

export type ConfigOf<S extends ConfigSchema> = {
  -readonly [K in keyof S]: S[K] extends { type: 'bool' } ? boolean : S[K] extends { type: 'int' | 'long' | 'double' } ? number : string;
};

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export interface LoadConfigOptions {
  /** Path of a Java properties file. */
  file?: string | undefined;
  /** Properties text, instead of a file (tests). */
  text?: string | undefined;
  env?: Record<string, string | undefined>;
  overrides?: Record<string, string | undefined>;
  /** Called once per unknown property name found in the file or overrides. */
  warn?: (message: string) => void;
}

export interface LoadedConfig<S extends ConfigSchema> {
  config: ConfigOf<S>;
  /** Property names from the file that the schema does not know (kept so they can be printed). */
  unknown: Map<string, string>;
  /** Where each non-default value came from. */
  origin: Map<string, 'file' | 'env' | 'override'>;
}

/** `listenPort` → `ROCKETMQ_LISTEN_PORT`; dotted names too: `tls.server.certPath` → `ROCKETMQ_TLS_SERVER_CERT_PATH`. */
export function envNameOf(property: string): string {
  return (
    'ROCKETMQ_' +
    property
      .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
      .replace(/\./g, '_')
      .toUpperCase()
  );
}

export function coerceConfigValue(name: string, field: ConfigField, raw: string): string | number | boolean {
  const v = raw.trim();
  switch (field.type) {
    case 'string':
      return raw;
    case 'bool': {
      const l = v.toLowerCase();
      if (l === 'true') return true;
      if (l === 'false') return false;
      throw new ConfigError(`${name}: expected true or false, got "${raw}"`);
    }
    case 'int':
    case 'long':
    case 'double': {
      const n = Number(v);
      if (v === '' || !Number.isFinite(n) || (field.type !== 'double' && !Number.isInteger(n))) {
        throw new ConfigError(`${name}: expected ${field.type === 'double' ? 'a number' : 'an integer'}, got "${raw}"`);
      }
      if (field.min !== undefined && n < field.min) throw new ConfigError(`${name}: ${n} is below the minimum ${field.min}`);
      if (field.max !== undefined && n > field.max) throw new ConfigError(`${name}: ${n} is above the maximum ${field.max}`);
      return n;
    }
    case 'enum': {
      const hit = field.values.find((x) => x.toLowerCase() === v.toLowerCase());
      if (hit === undefined) throw new ConfigError(`${name}: expected one of ${field.values.join(', ')}, got "${raw}"`);
      return hit;
    }
  }
}

export function loadConfig<S extends ConfigSchema>(schema: S, opts: LoadConfigOptions = {}): LoadedConfig<S> {
  const config: Record<string, string | number | boolean> = {};
  for (const [k, f] of Object.entries(schema)) config[k] = f.default;
  const unknown = new Map<string, string>();
  const origin = new Map<string, 'file' | 'env' | 'override'>();

  const apply = (props: Map<string, string> | [string, string][], from: 'file' | 'env' | 'override'): void => {
    for (const [k, raw] of props) {
      const f = schema[k];
      if (!f) {
        unknown.set(k, raw);
        opts.warn?.(`unknown property "${k}" (from ${from}) is ignored`);
        continue;
      }
      config[k] = coerceConfigValue(k, f, raw);
      origin.set(k, from);
    }
  };

  let text = opts.text;
  if (opts.file !== undefined) {
    try {
      text = readFileSync(opts.file, 'utf8');
    } catch (e) {
      throw new ConfigError(`cannot read config file ${opts.file}: ${(e as Error).message}`);
    }
  }
  if (text !== undefined) apply(parseProperties(text), 'file');

  const env = opts.env ?? {};
  const fromEnv: [string, string][] = [];
  for (const k of Object.keys(schema)) {
    const v = env[envNameOf(k)];
    if (v !== undefined && v !== '') fromEnv.push([k, v]);
  }
  if (schema['namesrvAddr'] && env['NAMESRV_ADDR']) fromEnv.push(['namesrvAddr', env['NAMESRV_ADDR']]);
  apply(fromEnv, 'env');

  const over: [string, string][] = [];
  for (const [k, v] of Object.entries(opts.overrides ?? {})) if (v !== undefined) over.push([k, v]);
  apply(over, 'override');

  return { config: config as ConfigOf<S>, unknown, origin };
}

export interface ConfigUpdate {
  /** Validated, typed values by property name. */
  values: Map<string, string | number | boolean>;
  /** Names the schema does not know. */
  unknown: string[];
}

/**
 * Checks property updates at run time (UPDATE_BROKER_CONFIG, UPDATE_NAMESRV_CONFIG) by the same
 * rules as loading: types, ranges, enums. Throws ConfigError naming the first bad property, so a
 * server never takes a value it would have refused at start-up.
 */
export function validateConfigUpdate(schema: ConfigSchema, props: ReadonlyMap<string, string> | Iterable<readonly [string, string]>): ConfigUpdate {
  const values = new Map<string, string | number | boolean>();
  const unknown: string[] = [];
  for (const [k, raw] of props) {
    const f = schema[k];
    if (f === undefined) unknown.push(k);
    else values.set(k, coerceConfigValue(k, f, raw));
  }
  return { values, unknown };
}

/** The effective config as properties text (what `-p` prints). */
export function printConfig(config: Record<string, string | number | boolean>): string {
  return stringifyProperties(Object.entries(config).map(([k, v]) => [k, String(v)] as [string, string]));
}

/**
 * Minimal argv reader for the servers: `-c file`, `-n addr`, `-p`, `-h`, and `--key=value` /
 * `--key value` overrides of any property.
 */
export interface ServerArgs {
  configFile?: string;
  namesrvAddr?: string;
  printConfig: boolean;
  help: boolean;
  overrides: Record<string, string>;
}

export function parseServerArgs(argv: readonly string[]): ServerArgs {
  const out: ServerArgs = { printConfig: false, help: false, overrides: {} };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const next = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new ConfigError(`option ${a} needs a value`);
      return v;
    };
    if (a === '-c' || a === '--configFile') {
      out.configFile = next();
    } else if (a === '-n' || a === '--namesrvAddr') {
      out.namesrvAddr = next();
    } else if (a === '-p' || a === '--printConfigItem') {
      out.printConfig = true;
    } else if (a === '-h' || a === '--help') {
      out.help = true;
    } else if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      if (eq > 0) out.overrides[a.slice(2, eq)] = a.slice(eq + 1);
      else out.overrides[a.slice(2)] = next();
    } else {
      throw new ConfigError(`unknown argument "${a}"`);
    }
  }
  return out;
}
