#!/usr/bin/env node
import 'reflect-metadata';
import { join } from 'node:path';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { ConfigError, parseServerArgs, printConfig } from '@rocketmq-ts/common';
import { createLogger, exitWith, portInUse } from '@rocketmq-ts/remoting';
import { NestLogger } from '@rocketmq-ts/remoting/nest';
import { AppModule } from './app.module.js';
import { loadDashboardConfig, type DashboardConfig } from './config.js';
import { AuthService, isAclRefusal, maskSecret } from './auth/auth.service.js';
import { ChartsService } from './charts.service.js';
import { ConsoleService } from './console.service.js';
import { DashboardMetrics } from './metrics.js';
import { vendorDirs } from './vendor.js';

const log = createLogger('dashboard');

const USAGE = `usage: mqdashboard [-c <config file>] [-n <namesrvAddr>] [-p] [--<property>=<value> ...]
  -c  Java properties file with dashboard properties (namesrvAddr, listenPort, bindAddress, ...)
  -n  name server addresses, host:port;host:port
  -p  print the effective configuration and exit
  -h  this help`;

const die = (message: string): never => exitWith(log, message);

export async function main(argv: readonly string[]): Promise<void> {
  let config: DashboardConfig;
  let file: string | undefined;
  try {
    const args = parseServerArgs(argv);
    if (args.help) {
      process.stdout.write(USAGE + '\n');
      process.exit(0);
    }
    file = args.configFile;
    const overrides = { ...args.overrides, ...(args.namesrvAddr !== undefined ? { namesrvAddr: args.namesrvAddr } : {}) };
    config = loadDashboardConfig({ file, overrides, warn: (m) => log.warn(m) }).config;
    if (args.printConfig) {
      process.stdout.write(printConfig({ ...config, secretKey: maskSecret(config.secretKey) }));
      process.exit(0);
    }
  } catch (e) {
    if (e instanceof ConfigError) die(`invalid configuration: ${e.message}`);
    throw e;
  }
  log.info(`config loaded${file ? ` from ${file}` : ' (defaults)'}: listenPort=${config.listenPort} namesrvAddr=${config.namesrvAddr}`);

  const metrics = new DashboardMetrics({ node_type: 'dashboard' });
  const console = new ConsoleService(config);
  const auth = new AuthService(config);
  const charts = new ChartsService(
    config,
    () => auth.samplerIdentity(console.baseAdmin),
    (message) => isAclRefusal(message) && auth.markRefused('chart sample'),
  );
  let ready = false;
  const app = await NestFactory.create<NestExpressApplication>(AppModule.register({ config, console, charts, auth, metrics, ready: () => ready }), {
    logger: new NestLogger(),
    abortOnError: false,
  });
  app.enableShutdownHooks(['SIGTERM', 'SIGINT'], { useProcessExit: true });
  // The pages: dist/web (index.html, style.css and the compiled scripts), served as they are.
  app.useStaticAssets(join(import.meta.dirname, 'web'), { index: 'index.html', maxAge: 0 });
  for (const v of vendorDirs()) app.useStaticAssets(v.dir, { prefix: v.prefix, maxAge: 3600_000, index: false });
  try {
    await app.listen(config.listenPort, config.bindAddress);
  } catch (e) {
    await app.close().catch(() => undefined);
    if (portInUse(e)) die(`listenPort ${config.listenPort} is already in use (bindAddress ${config.bindAddress})`);
    die(`dashboard failed to start: ${(e as Error).message}`);
  }
  log.info(`http listening on ${config.bindAddress}:${config.listenPort} (console /, API /api, /metrics, /health, /ready)`);
  ready = true;
  log.info('dashboard started');
}

main(process.argv.slice(2)).catch((e: unknown) => {
  log.error(`dashboard failed to start: ${(e as Error).message}`);
  process.exit(1);
});
