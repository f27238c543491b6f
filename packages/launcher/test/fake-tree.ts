import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeTempDir, writeConf } from '@rocketmq-ts/testing';

/** The built CLI under test (`pnpm test` builds first). */
export const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'cli.js');

/**
 * A stand-in server app. Reads `-c <conf>` and, from it: listenPort (or ROCKETMQ_LISTEN_PORT),
 * metricsPromExporterPort, startDelayMs, neverListen, exitAfterMs (crash with code 3),
 * ignoreSigterm, dataFile (written relative to the cwd).
 */
const FAKE_APP = String.raw`
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const file = process.argv[process.argv.indexOf('-c') + 1];
const props = {};
for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
  const m = line.match(/^\s*([^#!=\s]+)\s*=\s*(.*)$/);
  if (m) props[m[1]] = m[2].trim();
}
const port = Number(process.env.ROCKETMQ_LISTEN_PORT || props.listenPort);
console.log('fake pid=' + process.pid + ' cwd=' + process.cwd() + ' conf=' + file + ' namesrv=' + (process.env.NAMESRV_ADDR || '-'));
console.error('fake says hello on stderr');
if (props.dataFile) {
  fs.mkdirSync(path.dirname(props.dataFile), { recursive: true });
  fs.writeFileSync(props.dataFile, 'written by ' + process.pid);
}
const serve = (p) => net.createServer((c) => c.end()).listen(p, '127.0.0.1');
if (props.neverListen !== 'true') {
  setTimeout(() => {
    serve(port).on('listening', () => console.log('fake listening on ' + port));
    if (props.metricsPromExporterPort) serve(Number(props.metricsPromExporterPort));
  }, Number(props.startDelayMs || 0));
} else {
  setInterval(() => {}, 1000);
}
if (props.exitAfterMs) setTimeout(() => { console.log('fake crashing'); process.exit(3); }, Number(props.exitAfterMs));
process.on('SIGTERM', () => {
  if (props.ignoreSigterm === 'true') { console.log('fake ignores SIGTERM'); return; }
  console.log('fake stopping');
  process.exit(0);
});
`;

export interface FakeProcess {
  name: string;
  app?: string;
  conf: Record<string, string | number | boolean>;
  env?: Record<string, string>;
}

/** A temp repo root with apps/fake/dist/main.js and infra/conf/<topology>/. Returns the root. */
export function makeFakeTree(topology: string, processes: FakeProcess[]): string {
  const root = makeTempDir('launcher-test');
  const appDir = join(root, 'apps', 'fake', 'dist');
  mkdirSync(appDir, { recursive: true });
  writeFileSync(join(appDir, 'main.js'), FAKE_APP);
  const confDir = join(root, 'infra', 'conf', topology);
  mkdirSync(confDir, { recursive: true });
  for (const p of processes) writeConf(confDir, `${p.name}.conf`, p.conf);
  const json = {
    processes: processes.map((p) => ({ name: p.name, app: p.app ?? 'fake', config: `${p.name}.conf`, ...(p.env ? { env: p.env } : {}) })),
  };
  writeFileSync(join(confDir, 'topology.json'), JSON.stringify(json, null, 2));
  return root;
}

/** The pid the launcher reported for a process ("started <name> (pid N)"). */
export function pidOf(output: string, name: string): number {
  const m = output.match(new RegExp(`started ${name} \\(pid (\\d+)\\)`));
  if (!m) throw new Error(`no pid for ${name} in:\n${output}`);
  return Number(m[1]);
}
