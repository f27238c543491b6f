import { createServer } from 'node:net';

export { canConnect } from '@rocketmq-ts/common';

export type PortState = 'free' | 'in-use' | 'denied';

/** Tries to bind the port on all interfaces, as the servers will; a listener on any address makes it fail. */
export function probePort(port: number): Promise<PortState> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'EACCES' ? 'denied' : 'in-use'));
    server.listen({ port, host: '0.0.0.0', exclusive: true }, () => server.close(() => resolve('free')));
  });
}
