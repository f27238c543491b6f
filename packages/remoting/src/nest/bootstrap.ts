// Start-up shared by the servers: a Nest app whose microservice transport is our RemotingServer,
// plus the HTTP side (/metrics, /health, /ready). A taken port ends the process with one clear line.
import type { INestApplication } from '@nestjs/common';
import { RemotingHandlerExplorer } from './handlers.js';
import type { Logger } from '../logger.js';
import { exitWith, portInUse } from '../process.js';
import type { RemotingServer } from './server.js';

export interface StartServerOptions {
  app: INestApplication;
  remoting: RemotingServer;
  bindAddress: string;
  listenPort: number;
  /** HTTP port for metrics and health; 0 = no HTTP listener. */
  httpPort: number;
  log: Logger;
}

async function listenOrExit(o: StartServerOptions, what: string, property: string, port: number, listen: () => Promise<unknown>): Promise<void> {
  try {
    await listen();
  } catch (e) {
    await o.app.close().catch(() => undefined);
    if (portInUse(e)) exitWith(o.log, `${property} ${port} is already in use (bindAddress ${o.bindAddress})`);
    exitWith(o.log, `${what} failed to start on ${o.bindAddress}:${port}: ${(e as Error).message}`);
  }
}

/**
 * Wires the remoting transport into `app` (handlers found by RemotingHandlerExplorer, shutdown on
 * SIGTERM/SIGINT), starts it on listenPort, then HTTP on httpPort. Logs one line per listener.
 */
export async function startRemotingServer(o: StartServerOptions): Promise<void> {
  const { app, remoting } = o;
  remoting.useHandlerSource(() => app.get(RemotingHandlerExplorer).explore());
  app.connectMicroservice({ strategy: remoting }, { inheritAppConfig: false });
  app.enableShutdownHooks(['SIGTERM', 'SIGINT'], { useProcessExit: true });
  await app.init();
  await listenOrExit(o, 'remoting', 'listenPort', o.listenPort, () => app.startAllMicroservices());
  o.log.info(`remoting listening on ${o.bindAddress}:${o.listenPort} (${remoting.handlers.size} request codes)`);
  if (o.httpPort > 0) {
    await listenOrExit(o, 'http', 'metricsPromExporterPort', o.httpPort, () => app.listen(o.httpPort, o.bindAddress));
    o.log.info(`http listening on ${o.bindAddress}:${o.httpPort} (/metrics, /health, /ready)`);
  }
}
