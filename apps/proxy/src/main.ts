#!/usr/bin/env node
import 'reflect-metadata';
import { hostname } from 'node:os';
import { NestFactory } from '@nestjs/core';
import { Log, defaultClientLogger } from '@rocketmq-ts/client';
import { ConfigError, parseServerArgs, printConfig } from '@rocketmq-ts/common';
import { createLogger, exitWith, hideTlsSecrets, portInUse, tlsClientOptionsFrom, type TlsClientOptions } from '@rocketmq-ts/remoting';
import { NestLogger } from '@rocketmq-ts/remoting/nest';
import { AclFile, parseInnerCredentials, resolveAclFilePath } from '@rocketmq-ts/remoting/acl';
import { Cluster } from './cluster/cluster.js';
import { loadProxyConfig, type ProxyConfig } from './config.js';
import { ProxyAcl } from './grpc/acl.js';
import { ProxyMetrics } from './metrics.js';
import { ProxyModule } from './proxy.module.js';
import { createSharedState } from './state/index.js';

const log = createLogger('proxy');

const USAGE = `usage: mqproxy [-c <config file>] [-n <namesrvAddr>] [-p] [--<property>=<value> ...]
  -c  Java properties file with ProxyConfig properties (grpcServerPort, namesrvAddr, redisAddr, ...)
  -n  name server addresses, host:port;host:port
  -p  print the effective configuration and exit
  -h  this help`;

const die = (message: string): never => exitWith(log, message);

export async function main(argv: readonly string[]): Promise<void> {
  let config: ProxyConfig;
  let file: string | undefined;
  let outgoingTls: TlsClientOptions | undefined;
  try {
    const args = parseServerArgs(argv);
    if (args.help) {
      process.stdout.write(USAGE + '\n');
      process.exit(0);
    }
    file = args.configFile;
    const overrides = { ...args.overrides, ...(args.namesrvAddr !== undefined ? { namesrvAddr: args.namesrvAddr } : {}) };
    config = loadProxyConfig({ file, overrides, warn: (m) => log.warn(m) }).config;
    if (args.printConfig) {
      process.stdout.write(printConfig(hideTlsSecrets(config)));
      process.exit(0);
    }
    outgoingTls = tlsClientOptionsFrom(config);
  } catch (e) {
    if (e instanceof ConfigError) die(`invalid configuration: ${e.message}`);
    throw e;
  }
  const name = config.proxyName || `${hostname()}:${config.grpcServerPort}`;
  log.info(
    `config loaded${file ? ` from ${file}` : ' (defaults)'}: grpcServerPort=${config.grpcServerPort} namesrvAddr=${config.namesrvAddr} ` +
      `metricsPromExporterPort=${config.metricsPromExporterPort} sharedState=${config.redisAddr ? `redis ${config.redisAddr}` : 'memory'}`,
  );
  const clientLog = defaultClientLogger('proxy');
  const plog = new Log(clientLog);
  let state;
  try {
    state = await createSharedState({ redisAddr: config.redisAddr || undefined, keyPrefix: config.redisKeyPrefix });
  } catch (e) {
    die(`shared state failed to start: ${(e as Error).message}`);
  }
  log.info(`shared state ready (${config.redisAddr ? `redis ${config.redisAddr} prefix ${config.redisKeyPrefix}` : 'in memory'}), proxy id ${state!.proxyId}`);
  let acl: ProxyAcl | undefined;
  let credentials: { accessKey: string; secretKey: string } | undefined;
  try {
    credentials = parseInnerCredentials(config.innerClientAuthenticationCredentials);
    if (config.aclEnable) {
      const path = resolveAclFilePath('', config.aclFilePath);
      acl = new ProxyAcl(new AclFile(path, createLogger('proxy.acl')).watch());
      log.info(`ACL enabled: ${path} (${acl.file.rules.accounts.size} accounts), reloaded when it changes`);
    }
  } catch (e) {
    die(`ACL: ${(e as Error).message}`);
  }
  const cluster = new Cluster({
    namesrvAddr: config.namesrvAddr,
    clusterName: config.rocketMQClusterName,
    instanceName: `proxy-${name}-${process.pid}`,
    remotingTimeoutMs: config.remotingTimeoutMillis,
    routeCacheExpireMs: config.routeCacheExpireMillis,
    transactionHeartbeatMs: config.transactionHeartbeatPeriodSecond * 1000,
    logger: clientLog,
    tls: outgoingTls,
    credentials,
    serializeType: config.remotingSerializeType === 'JSON' ? 'JSON' : 'ROCKETMQ',
  });
  const metrics = new ProxyMetrics({ node_type: 'proxy', node_id: name, cluster: config.rocketMQClusterName });
  let ready = false;
  const app = await NestFactory.create(ProxyModule.register({ config, state: state!, cluster, metrics, log: plog, acl, ready: () => ready }), {
    logger: new NestLogger(),
    abortOnError: false,
  });
  app.enableShutdownHooks(['SIGTERM', 'SIGINT'], { useProcessExit: true });
  try {
    await app.init();
  } catch (e) {
    await app.close().catch(() => undefined);
    if (portInUse(e)) die(`grpcServerPort ${config.grpcServerPort} is already in use (bindAddress ${config.bindAddress})`);
    die(`proxy failed to start: ${(e as Error).message}`);
  }
  if (config.metricsPromExporterPort > 0) {
    try {
      await app.listen(config.metricsPromExporterPort, config.bindAddress);
    } catch (e) {
      await app.close().catch(() => undefined);
      if (portInUse(e)) die(`metricsPromExporterPort ${config.metricsPromExporterPort} is already in use (bindAddress ${config.bindAddress})`);
      die(`http failed to start: ${(e as Error).message}`);
    }
    log.info(`http listening on ${config.bindAddress}:${config.metricsPromExporterPort} (/metrics, /health, /ready)`);
  }
  ready = true;
  log.info('proxy started');
}

main(process.argv.slice(2)).catch((e: unknown) => {
  log.error(`proxy failed to start: ${(e as Error).message}`);
  process.exit(1);
});
