import { RemotingCommand, ResponseCode } from '@rocketmq-ts/protocol';
import type { RemotingConnection, RequestGuard } from '../connection.js';
import type { Logger } from '../logger.js';
import { normalizeIp } from './remote-address.js';
import type { PlainAclValidator } from './validator.js';

/**
 * Prefix of the remark of a refused request. RocketMQ's servers answer an ACL failure as any
 * failed RPC hook: SYSTEM_ERROR with the exception's text, which names AclException.
 */
export const ACL_DENIED_REMARK_PREFIX = 'AclException: ';

/** The remote IP of a connection (no port, IPv4-mapped prefix removed). */
export function connectionIp(conn: RemotingConnection): string {
  return normalizeIp(conn.socket.remoteAddress ?? '');
}

/** A remoting request guard that answers refused requests with SYSTEM_ERROR and does not process them. */
export function aclRequestGuard(validator: PlainAclValidator, log: Logger): RequestGuard {
  return (cmd: RemotingCommand, conn: RemotingConnection): RemotingCommand | null => {
    const reason = validator.checkRequest(cmd, connectionIp(conn));
    if (reason === null) return null;
    log.warn(`ACL refused request code ${cmd.code} from ${conn.remoteAddress}: ${reason}`);
    return RemotingCommand.responseTo(cmd, ResponseCode.SYSTEM_ERROR, ACL_DENIED_REMARK_PREFIX + reason);
  };
}
