#!/usr/bin/env node
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { ConfigError, parseServerArgs, printConfig } from '@rocketmq-ts/common';
import {
  TlsConfigError,
  createLogger,
  createTlsClientContext,
  describeTls,
  exitWith,
  hideTlsSecrets,
  portInUse,
  readServerCredentials,
  tlsClientOptionsFrom,
  tlsServerOptionsFrom,
  type TlsServerOptions,
} from '@rocketmq-ts/remoting';
import { NestLogger, RemotingServer, startRemotingServer } from '@rocketmq-ts/remoting/nest';
import { BrokerModule } from './broker.module.js';
import { BrokerController } from './broker-controller.js';
import { BrokerState } from './broker-state.js';
import { BrokerMetrics } from './metrics/broker-metrics.js';
import { MESSAGE_STORE } from './tokens.js';
import { DefaultMessageStore, type MessageStore } from '@rocketmq-ts/store';
import { FAULT_FILE_ENV, watchFaultFile } from './fault-toggle.js';
import { isIgnoredJavaProperty, loadBrokerConfig, type BrokerConfig } from './config.js';
import { StoreLockError, acquireStoreLock, checkPortFree } from './startup-guard.js';
import { BrokerAddressError, resolveBrokerAddresses } from './broker-address.js';
import { innerCredentials, startBrokerAcl } from './acl/broker-acl.js';

const log = createLogger('broker');

const USAGE = `usage: mqbroker [-c <broker.conf>] [-n <namesrv list>] [-p] [--<property>=<value> ...]
  -c  Java properties file with BrokerConfig and MessageStoreConfig properties
  -n  name server addresses, "host:port;host:port" (overrides namesrvAddr)
  -p  print the effective configuration and exit
  -h  this help`;

const die = (message: string): never => exitWith(log, message);

export async function main(argv: readonly string[]): Promise<void> {
  let config: BrokerConfig;
  let file: string | undefined;
  try {
    const args = parseServerArgs(argv);
    if (args.help) {
      process.stdout.write(USAGE + '\n');
      process.exit(0);
    }
    file = args.configFile;
    const overrides: Record<string, string> = { ...args.overrides };
    if (args.namesrvAddr !== undefined) overrides['namesrvAddr'] = args.namesrvAddr;
    const ignored: string[] = [];
    const warn = (m: string): void => {
      const name = /^unknown property "([^"]+)"/.exec(m)?.[1];
      if (name !== undefined && isIgnoredJavaProperty(name)) ignored.push(name);
      else log.warn(m);
    };
    config = loadBrokerConfig({ file, env: process.env, overrides, warn }).config;
    if (ignored.length > 0) log.info(`RocketMQ properties accepted but without effect here: ${ignored.join(', ')}`);
    if (args.printConfig) {
      process.stdout.write(printConfig(hideTlsSecrets(config.flat)));
      process.exit(0);
    }
  } catch (e) {
    if (e instanceof ConfigError) die(`invalid configuration: ${e.message}`);
    throw e;
  }
  // brokerIP1/brokerIP2 may be host names (compose service names): the broker uses addresses.
  try {
    await resolveBrokerAddresses(config, (line) => log.info(line));
  } catch (e) {
    if (e instanceof BrokerAddressError) die(e.message);
    throw e;
  }
  log.info(
    `config loaded${file ? ` from ${file}` : ' (defaults)'}: ${config.brokerClusterName}/${config.brokerName}[${config.brokerId}] ${config.brokerRole} ` +
      `${config.store.flushDiskType} listenPort=${config.listenPort} store=${config.store.storePathRootDir} namesrvAddr=${config.namesrvAddr || '(none)'}`,
  );

  // Before anything is loaded: the ports must be free and the store ours alone.
  for (const [name, port] of [
    ['listenPort', config.listenPort],
    ['metricsPromExporterPort', config.metricsPromExporterPort],
    // A master serves its slaves there (a slave opens no HA port).
    ['haListenPort', config.brokerRole === 'SLAVE' ? 0 : config.haListenPort],
  ] as const) {
    if (port <= 0) continue;
    try {
      await checkPortFree(port, config.bindAddress);
    } catch (e) {
      if (portInUse(e)) die(`${name} ${port} is already in use (bindAddress ${config.bindAddress}); is another broker running?`);
      die(`cannot listen on ${config.bindAddress}:${port} (${name}): ${(e as Error).message}`);
    }
  }
  try {
    const lock = acquireStoreLock(config.store.storePathRootDir);
    process.once('exit', () => lock.release());
  } catch (e) {
    if (e instanceof StoreLockError) die(e.message);
    die(`cannot lock the store ${config.store.storePathRootDir}: ${(e as Error).message}`);
  }

  let acl: ReturnType<typeof startBrokerAcl>;
  try {
    innerCredentials(config);
    acl = startBrokerAcl(config, createLogger('broker.acl'));
  } catch (e) {
    die(`ACL: ${(e as Error).message}`);
    return;
  }
  const state = new BrokerState(config);
  state.configFile = file;
  const metrics = new BrokerMetrics(config);
  // Bound once the app has built the store (replies to sends must not leave before its records are written).
  const bound: { store?: MessageStore } = {};
  let tls: TlsServerOptions;
  try {
    tls = tlsServerOptionsFrom(config);
    const outgoing = tlsClientOptionsFrom(config);
    // Check the certificate files now, for a clear message instead of a stack trace later.
    if (tls.mode !== 'disabled') readServerCredentials(tls);
    if (outgoing !== undefined) createTlsClientContext(outgoing);
    log.info(describeTls(tls, outgoing));
  } catch (e) {
    if (e instanceof ConfigError) die(`invalid configuration: ${e.message}`);
    if (e instanceof TlsConfigError) die(e.message);
    throw e;
  }
  const remoting = new RemotingServer({
    port: config.listenPort,
    host: config.bindAddress,
    serverChannelMaxIdleTimeSeconds: config.serverChannelMaxIdleTimeSeconds,
    maxFrameLength: Math.max(16 * 1024 * 1024, config.store.maxMessageSize + 1024 * 1024),
    writeBufferHighWaterMark: config.writeBufferHighWaterMark,
    probe: metrics.remotingProbe,
    name: 'remoting',
    // Replies to sends say "stored": the records reach the files (the OS) before any reply leaves.
    beforeOutput: () => bound.store === undefined || bound.store.writeAppended(),
    tls,
    ...(acl !== null ? { requestGuard: acl.guard } : {}),
  });
  let ready = false;
  const app = await NestFactory.create(BrokerModule.register({ config, metrics, state, ready: () => ready }), {
    logger: new NestLogger(),
    abortOnError: false,
  });
  bound.store = app.get<MessageStore>(MESSAGE_STORE);
  const faultFile = process.env[FAULT_FILE_ENV];
  if (faultFile !== undefined && faultFile !== '' && bound.store instanceof DefaultMessageStore) watchFaultFile(faultFile, bound.store.failures, log);
  await startRemotingServer({ app, remoting, bindAddress: config.bindAddress, listenPort: config.listenPort, httpPort: config.metricsPromExporterPort, log });
  await app.get(BrokerController).registerWithNameServers();
  ready = true;
  log.info(`broker ${config.brokerName}[${config.brokerId}] started at ${state.brokerAddr}`);
}

main(process.argv.slice(2)).catch((e: unknown) => {
  log.error('broker failed to start', e);
  process.exit(1);
});
