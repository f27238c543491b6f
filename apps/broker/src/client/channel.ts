import type { RemotingConnection } from '@rocketmq-ts/remoting';

/** What the broker needs of a client connection (a RemotingConnection in practice). */
export type ClientChannel = Pick<RemotingConnection, 'remoteAddress' | 'isClosed' | 'invokeOneway' | 'invoke'>;

export interface ClientChannelInfo {
  channel: ClientChannel;
  clientId: string;
  language: string;
  version: number;
  lastUpdateTimestamp: number;
}
