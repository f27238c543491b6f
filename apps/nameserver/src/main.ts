#!/usr/bin/env node
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { ConfigError, parseServerArgs, printConfig } from '@rocketmq-ts/common';
import {
  TlsConfigError,
  createLogger,
  describeTls,
  exitWith,
  hideTlsSecrets,
  readServerCredentials,
  tlsServerOptionsFrom,
  type TlsServerOptions,
} from '@rocketmq-ts/remoting';
import { NestLogger, RemotingServer, startRemotingServer } from '@rocketmq-ts/remoting/nest';
import { AclFile, NAMESRV_ADMIN_CODES, PlainAclValidator, aclRequestGuard, resolveAclFilePath } from '@rocketmq-ts/remoting/acl';
import { AppModule } from './app.module.js';
import { expandHome, loadNamesrvConfig, type NamesrvConfig } from './config.js';
import { NamesrvMetrics } from './metrics.js';

const log = createLogger('namesrv');

const USAGE = `usage: mqnamesrv [-c <config file>] [-p] [--<property>=<value> ...]
  -c  Java properties file with NamesrvConfig properties
  -p  print the effective configuration and exit
  -h  this help`;

const die = (message: string): never => exitWith(log, message);

export async function main(argv: readonly string[]): Promise<void> {
  let config: NamesrvConfig;
  let file: string | undefined;
  let tls: TlsServerOptions;
  try {
    const args = parseServerArgs(argv);
    if (args.help) {
      process.stdout.write(USAGE + '\n');
      process.exit(0);
    }
    file = args.configFile;
    config = loadNamesrvConfig({ file, overrides: args.overrides, warn: (m) => log.warn(m) }).config;
    if (args.printConfig) {
      process.stdout.write(printConfig(hideTlsSecrets(config)));
      process.exit(0);
    }
    tls = tlsServerOptionsFrom(config);
    if (tls.mode !== 'disabled') readServerCredentials(tls);
  } catch (e) {
    if (e instanceof TlsConfigError) die(e.message);
    if (e instanceof ConfigError) die(`invalid configuration: ${e.message}`);
    throw e;
  }
  log.info(
    `config loaded${file ? ` from ${file}` : ' (defaults)'}: listenPort=${config.listenPort} metricsPromExporterPort=${config.metricsPromExporterPort} ` +
      `kvConfigPath=${expandHome(config.kvConfigPath)}`,
  );
  log.info(describeTls(tls));

  // With ACL on, every request needs a known account (or a white address); the codes that change
  // routes and config need an admin account.
  let guard: ReturnType<typeof aclRequestGuard> | undefined;
  if (config.aclEnable) {
    const path = resolveAclFilePath(config.rocketmqHome, config.aclFilePath);
    const aclLog = createLogger('namesrv.acl');
    try {
      const acl = new AclFile(path, aclLog).watch();
      guard = aclRequestGuard(new PlainAclValidator(() => acl.rules, NAMESRV_ADMIN_CODES), aclLog);
      log.info(`ACL enabled: ${path} (${acl.rules.accounts.size} accounts), reloaded when it changes`);
    } catch (e) {
      die(`ACL: ${(e as Error).message}`);
    }
  }

  const metrics = new NamesrvMetrics({ node_type: 'nameserver' });
  const remoting = new RemotingServer({
    port: config.listenPort,
    host: config.bindAddress,
    serverChannelMaxIdleTimeSeconds: config.serverChannelMaxIdleTimeSeconds,
    probe: metrics,
    name: 'remoting',
    tls,
    ...(guard !== undefined ? { requestGuard: guard } : {}),
  });
  let ready = false;
  const app = await NestFactory.create(AppModule.register({ config, remoting, metrics, ready: () => ready }), {
    logger: new NestLogger(),
    abortOnError: false,
  });
  await startRemotingServer({ app, remoting, bindAddress: config.bindAddress, listenPort: config.listenPort, httpPort: config.metricsPromExporterPort, log });
  ready = true;
  log.info('name server started');
}

main(process.argv.slice(2)).catch((e: unknown) => {
  log.error('name server failed to start', e);
  process.exit(1);
});
