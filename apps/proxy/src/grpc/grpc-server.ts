import { performance } from 'node:perf_hooks';
import * as grpc from '@grpc/grpc-js';
import type { Log } from '@rocketmq-ts/client';
import type { ProxyConfig } from '../config.js';
import type { ProxyMetrics } from '../metrics.js';
import type { CallContext, MessagingService } from '../messaging/messaging.service.js';
import type { TelemetryHub } from '../messaging/telemetry.js';
import { grpcServerCredentials } from './grpc-tls.js';
import type { ProxyAcl } from './acl.js';
import { loadMessagingService } from './proto.js';
import { Code, statusOf, type Status } from './status.js';
import type { TelemetryCommand } from './types.js';

type Unary = (ctx: CallContext, req: never) => Promise<{ status: Status }>;
type Streaming = (ctx: CallContext, req: never, write: (m: Record<string, unknown>) => void, cancelled: () => boolean) => Promise<void>;

function contextOf(call: grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerWritableStream<unknown, unknown>): CallContext {
  const id = call.metadata.get('x-mq-client-id')[0];
  const d = call.getDeadline();
  const deadline = d instanceof Date ? d.getTime() : typeof d === 'number' && Number.isFinite(d) ? d : Number.POSITIVE_INFINITY;
  return { clientId: typeof id === 'string' ? id : id?.toString('utf8'), deadline, peer: call.getPeer() };
}

/**
 * apache.rocketmq.v2.MessagingService on grpc-js: each RPC is a thin adapter to MessagingService.
 * Failures become the response's `status` (gRPC itself answers OK), as RocketMQ's proxy does; the
 * rpc latency is recorded by method and v2 code.
 */
export class GrpcServer {
  private server: grpc.Server | undefined;
  private boundPort = 0;

  constructor(
    private readonly cfg: ProxyConfig,
    private readonly service: MessagingService,
    private readonly telemetry: TelemetryHub,
    private readonly metrics: ProxyMetrics,
    private readonly log: Log,
    /** ACL 1.0: checked before each call; unset = no checks. */
    private readonly acl?: ProxyAcl,
  ) {}

  get port(): number {
    return this.boundPort;
  }

  private unary(name: string, fn: Unary): grpc.handleUnaryCall<unknown, unknown> {
    return (call, callback) => {
      const t0 = performance.now();
      let ctx: CallContext;
      try {
        ctx = contextOf(call);
      } catch (e) {
        callback(null, { status: statusOf(e) });
        return;
      }
      if (this.acl !== undefined) {
        const denied = this.acl.check(name, call.metadata, call.getPeer(), call.request);
        if (denied !== null) {
          this.metrics.rpcDone(name, denied.code, performance.now() - t0);
          callback(null, { status: denied });
          return;
        }
      }
      fn(ctx, call.request as never).then(
        (res) => {
          this.metrics.rpcDone(name, res.status.code, performance.now() - t0);
          callback(null, res);
        },
        (e: unknown) => {
          const status = statusOf(e);
          if (status.code === Code.INTERNAL_SERVER_ERROR) this.log.warn('rpc.failed', `${name} failed`, { clientId: ctx.clientId }, e);
          this.metrics.rpcDone(name, status.code, performance.now() - t0);
          callback(null, { status });
        },
      );
    };
  }

  private streaming(name: string, fn: Streaming): grpc.handleServerStreamingCall<unknown, unknown> {
    return (call) => {
      const t0 = performance.now();
      let code: number = Code.OK;
      const write = (m: Record<string, unknown>): void => {
        const st = m['status'] as Status | undefined;
        if (st !== undefined) code = st.code;
        if (!call.cancelled) call.write(m);
      };
      const done = (): void => {
        this.metrics.rpcDone(name, code, performance.now() - t0);
        if (!call.cancelled) call.end();
      };
      let ctx: CallContext;
      try {
        ctx = contextOf(call);
      } catch (e) {
        write({ status: statusOf(e) });
        done();
        return;
      }
      if (this.acl !== undefined) {
        const denied = this.acl.check(name, call.metadata, call.getPeer(), call.request);
        if (denied !== null) {
          write({ status: denied });
          done();
          return;
        }
      }
      fn(ctx, call.request as never, write, () => call.cancelled).then(done, (e: unknown) => {
        const status = statusOf(e);
        if (status.code === Code.INTERNAL_SERVER_ERROR) this.log.warn('rpc.failed', `${name} failed`, { clientId: ctx.clientId }, e);
        write({ status });
        done();
      });
    };
  }

  async start(): Promise<number> {
    const { service } = loadMessagingService();
    const s = this.service;
    const server = new grpc.Server({
      'grpc.max_receive_message_length': this.cfg.grpcMaxInboundMessageSize,
      'grpc.max_send_message_length': -1,
      'grpc.keepalive_permit_without_calls': 1,
    });
    const handlers: grpc.UntypedServiceImplementation = {
      QueryRoute: this.unary('QueryRoute', (_c, r: Parameters<MessagingService['queryRoute']>[0]) => s.queryRoute(r)),
      Heartbeat: this.unary('Heartbeat', (c, r: Parameters<MessagingService['heartbeat']>[1]) => s.heartbeat(c, r)),
      SendMessage: this.unary('SendMessage', (c, r: Parameters<MessagingService['sendMessage']>[1]) => s.sendMessage(c, r)),
      QueryAssignment: this.unary('QueryAssignment', (_c, r: Parameters<MessagingService['queryAssignment']>[0]) => s.queryAssignment(r)),
      ReceiveMessage: this.streaming('ReceiveMessage', (c, r: Parameters<MessagingService['receiveMessage']>[1], w, x) => s.receiveMessage(c, r, w, x)),
      AckMessage: this.unary('AckMessage', (c, r: Parameters<MessagingService['ackMessage']>[1]) => s.ackMessage(c, r)),
      ForwardMessageToDeadLetterQueue: this.unary(
        'ForwardMessageToDeadLetterQueue',
        (_c, r: Parameters<MessagingService['forwardMessageToDeadLetterQueue']>[0]) => s.forwardMessageToDeadLetterQueue(r),
      ),
      PullMessage: this.streaming('PullMessage', (c, r: Parameters<MessagingService['pullMessage']>[1], w) => s.pullMessage(c, r, w)),
      UpdateOffset: this.unary('UpdateOffset', (_c, r: Parameters<MessagingService['updateOffset']>[0]) => s.updateOffset(r)),
      GetOffset: this.unary('GetOffset', (_c, r: Parameters<MessagingService['getOffset']>[0]) => s.getOffset(r)),
      QueryOffset: this.unary('QueryOffset', (_c, r: Parameters<MessagingService['queryOffset']>[0]) => s.queryOffset(r)),
      EndTransaction: this.unary('EndTransaction', (_c, r: Parameters<MessagingService['endTransaction']>[0]) => s.endTransaction(r)),
      Telemetry: (call: grpc.ServerDuplexStream<TelemetryCommand, TelemetryCommand>) => {
        const id = call.metadata.get('x-mq-client-id')[0];
        if (this.acl !== undefined) {
          const denied = this.acl.check('Telemetry', call.metadata, call.getPeer(), null);
          if (denied !== null) {
            call.write({ status: denied });
            call.end();
            return;
          }
        }
        this.telemetry.attach(call, typeof id === 'string' ? id : id?.toString('utf8'));
      },
      NotifyClientTermination: this.unary('NotifyClientTermination', (c, r: Parameters<MessagingService['notifyClientTermination']>[1]) =>
        s.notifyClientTermination(c, r),
      ),
      ChangeInvisibleDuration: this.unary('ChangeInvisibleDuration', (_c, r: Parameters<MessagingService['changeInvisibleDuration']>[0]) =>
        s.changeInvisibleDuration(r),
      ),
      RecallMessage: this.unary('RecallMessage', (_c, r: Parameters<MessagingService['recallMessage']>[0]) => s.recallMessage(r)),
      SyncLiteSubscription: this.unary('SyncLiteSubscription', () => Promise.resolve().then(() => s.syncLiteSubscription())),
    };
    server.addService(service, handlers);
    const { credentials, description } = grpcServerCredentials(this.cfg);
    const port = await new Promise<number>((resolve, reject) => {
      server.bindAsync(`${this.cfg.bindAddress}:${this.cfg.grpcServerPort}`, credentials, (err, p) => (err ? reject(err) : resolve(p)));
    });
    this.log.info('grpc.listening', `gRPC ${description} on ${this.cfg.bindAddress}:${port}`);
    this.server = server;
    this.boundPort = port;
    return port;
  }

  /** Graceful: lets calls in flight finish for up to `graceMs`, then cuts the rest. */
  async stop(graceMs = 3000): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    this.server = undefined;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        server.forceShutdown();
        resolve();
      }, graceMs);
      server.tryShutdown(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }
}
