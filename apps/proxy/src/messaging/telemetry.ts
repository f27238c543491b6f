import { randomUUID } from 'node:crypto';
import type { ServerDuplexStream } from '@grpc/grpc-js';
import type { Log, MessageView, TransactionCheckRequest } from '@rocketmq-ts/client';
import { MessageConst } from '@rocketmq-ts/common';
import type { ProxyConfig } from '../config.js';
import type { Cluster } from '../cluster/cluster.js';
import { Code, OK_STATUS } from '../grpc/status.js';
import { msDuration, type Message, type Settings, type TelemetryCommand } from '../grpc/types.js';
import type { ProxyMetrics } from '../metrics.js';
import type { ClientKind, ProxyCommand, SharedState } from '../state/shared-state.js';
import { clientKindOf, resourceName, toGrpcMessage } from './convert.js';

type TelemetryCall = ServerDuplexStream<TelemetryCommand, TelemetryCommand>;

interface LocalClient {
  clientId: string;
  call: TelemetryCall;
  settings: Settings | undefined;
  kind: ClientKind | undefined;
  group: string | undefined;
  topics: string[];
}

/** Retry delays a consumer gets for failed messages (RocketMQ's levels 3 and up: 1s, 5s, 10s, 30s, 1m...). */
const CONSUMER_BACKOFF_MS = [1, 5, 10, 30, 60, 120, 180, 240, 300, 360, 420, 480, 540, 600, 1200, 1800, 3600, 7200].map((s) => s * 1000);

/** A command the proxy holding the stream writes as it is (Buffers travel as base64). */
interface CommandPayload {
  kind: 'command';
  command: TelemetryCommand;
}

/**
 * The Telemetry streams of the clients connected to this proxy: settings exchange, sessions in the
 * shared state, and server-side commands (transaction check-backs, thread-stack and verify
 * requests) delivered to whichever proxy holds the client's stream.
 */
export class TelemetryHub {
  private readonly local = new Map<string, LocalClient>();
  /** Replies to our own commands (by nonce). */
  private readonly waiting = new Map<string, (cmd: TelemetryCommand) => void>();
  private checkRr = 0;

  constructor(
    private readonly cfg: ProxyConfig,
    private readonly cluster: Cluster,
    private readonly state: SharedState,
    private readonly metrics: ProxyMetrics,
    private readonly log: Log,
  ) {}

  start(): void {
    this.state.onCommand((cmd) => this.deliverLocal(cmd));
    this.cluster.onTransactionCheck((req) => void this.onTransactionCheck(req));
  }

  get clientCount(): number {
    return this.local.size;
  }

  /** The clients whose streams this proxy holds. */
  localClients(): Array<{ clientId: string; kind: string | undefined; group: string | undefined; topics: string[] }> {
    return [...this.local.values()].map((c) => ({ clientId: c.clientId, kind: c.kind, group: c.group, topics: c.topics }));
  }

  localSettings(clientId: string): Settings | undefined {
    return this.local.get(clientId)?.settings;
  }

  /** A client opened its Telemetry stream. */
  attach(call: TelemetryCall, clientId: string | undefined): void {
    if (clientId === undefined || clientId === '') {
      call.write({ status: { code: Code.CLIENT_ID_REQUIRED, message: 'x-mq-client-id header is required' } });
      call.end();
      return;
    }
    const previous = this.local.get(clientId);
    const c: LocalClient = { clientId, call, settings: previous?.settings, kind: previous?.kind, group: previous?.group, topics: previous?.topics ?? [] };
    this.local.set(clientId, c);
    call.on('data', (cmd: TelemetryCommand) => void this.onClientCommand(c, cmd));
    const close = (): void => {
      if (this.local.get(clientId)?.call !== call) return;
      this.local.delete(clientId);
      this.metrics.setClients(this.countKinds());
      void this.state.releaseTelemetry(clientId).catch(() => undefined);
    };
    call.on('end', () => {
      close();
      // The client half-closed: end ours too, so its channel can close cleanly.
      try {
        call.end();
      } catch {
        // already ended
      }
    });
    call.on('error', close);
    call.on('cancelled', close);
  }

  private async onClientCommand(c: LocalClient, cmd: TelemetryCommand): Promise<void> {
    if (cmd.settings !== undefined) {
      await this.onSettings(c, cmd.settings);
      return;
    }
    // Replies to our commands carry their nonce (some clients answer a verify with the command itself and a status).
    const nonce = cmd.threadStackTrace?.nonce ?? cmd.verifyMessageResult?.nonce ?? cmd.verifyMessageCommand?.nonce;
    if (nonce !== undefined) {
      const w = this.waiting.get(nonce);
      if (w) w(cmd);
      else this.log.info('telemetry.reply', 'client answered a command nobody waits for', { clientId: c.clientId, nonce });
    }
  }

  private async onSettings(c: LocalClient, s: Settings): Promise<void> {
    const kind = clientKindOf(s.clientType);
    if (kind === undefined) {
      c.call.write({ status: { code: Code.UNRECOGNIZED_CLIENT_TYPE, message: `client type ${s.clientType ?? 'unset'} is not recognised` } });
      return;
    }
    c.settings = s;
    c.kind = kind;
    if (s.publishing !== undefined) {
      c.topics = (s.publishing.topics ?? []).map(resourceName).filter((t) => t !== '');
      c.group = undefined;
      for (const t of c.topics) this.cluster.registerTransactionTopic(t);
    } else if (s.subscription !== undefined) {
      c.group = resourceName(s.subscription.group);
      c.topics = (s.subscription.subscriptions ?? []).map((e) => resourceName(e.topic)).filter((t) => t !== '');
    }
    this.metrics.setClients(this.countKinds());
    await this.saveSession(c).catch((e: unknown) => this.log.warn('state.failed', 'could not save the client session', { clientId: c.clientId }, e));
    const reply = await this.serverSettings(c, s);
    this.write(c, { status: OK_STATUS, settings: reply });
    // A client that asks for several routes before it listens can miss the first answer: say it again.
    setTimeout(() => {
      if (this.local.get(c.clientId) === c) this.write(c, { status: OK_STATUS, settings: reply });
    }, 1000).unref();
  }

  private async saveSession(c: LocalClient): Promise<void> {
    if (c.kind === undefined) return;
    await this.state.putSession(
      {
        clientId: c.clientId,
        kind: c.kind,
        group: c.group,
        topics: c.topics,
        settings: JSON.stringify({ fifo: c.settings?.subscription?.fifo === true }),
        proxyId: this.state.proxyId,
        lastSeen: Date.now(),
      },
      this.cfg.clientSessionTtlMillis,
    );
    await this.state.claimTelemetry(c.clientId, this.cfg.clientSessionTtlMillis);
  }

  /** The settings the proxy answers with: the client's own, completed as RocketMQ's proxy completes them. */
  private async serverSettings(c: LocalClient, s: Settings): Promise<Settings> {
    const out: Settings = {};
    if (s.clientType !== undefined) out.clientType = s.clientType;
    if (s.accessPoint !== undefined) out.accessPoint = s.accessPoint;
    if (s.requestTimeout !== undefined) out.requestTimeout = s.requestTimeout;
    if (s.userAgent !== undefined) out.userAgent = s.userAgent;
    if (s.publishing !== undefined) {
      out.backoffPolicy = {
        maxAttempts: s.backoffPolicy?.maxAttempts ?? 3,
        exponentialBackoff: { initial: msDuration(10), max: msDuration(1000), multiplier: 2 },
      };
      out.publishing = {
        topics: s.publishing.topics ?? [],
        maxBodySize: this.cfg.maxMessageSize,
        validateMessageType: s.publishing.validateMessageType ?? true,
      };
    } else if (s.subscription !== undefined) {
      const topic = c.topics[0];
      const info = c.group && topic ? await this.cluster.group(c.group, topic) : { retryMaxTimes: 16, consumeMessageOrderly: false };
      out.backoffPolicy = {
        maxAttempts: info.retryMaxTimes + 1,
        customizedBackoff: { next: CONSUMER_BACKOFF_MS.map(msDuration) },
      };
      out.subscription = {
        ...(s.subscription.group !== undefined ? { group: s.subscription.group } : {}),
        subscriptions: s.subscription.subscriptions ?? [],
        fifo: info.consumeMessageOrderly,
        receiveBatchSize: this.cfg.maxMessageNumPerReceive,
        longPollingTimeout: msDuration(this.cfg.grpcClientConsumerMaxLongPollingTimeoutMillis),
      };
      if (c.settings?.subscription) c.settings.subscription.fifo = info.consumeMessageOrderly;
    }
    return out;
  }

  private write(c: LocalClient, cmd: TelemetryCommand): boolean {
    try {
      c.call.write(cmd);
      return true;
    } catch (e) {
      this.log.warn('telemetry.write', 'could not write to a telemetry stream', { clientId: c.clientId }, e);
      return false;
    }
  }

  private countKinds(): Map<string, number> {
    const m = new Map<string, number>();
    for (const c of this.local.values()) {
      const k = c.kind === 'PRODUCER' ? 'producer' : c.kind === undefined ? 'unknown' : 'consumer';
      m.set(k, (m.get(k) ?? 0) + 1);
    }
    return m;
  }

  // ------------------------------------------------------------------ sessions

  async heartbeat(clientId: string, kind: ClientKind, group: string | undefined): Promise<void> {
    const c = this.local.get(clientId);
    try {
      if (c !== undefined && c.kind !== undefined) {
        await this.saveSession(c);
        return;
      }
      if (!(await this.state.touchSession(clientId, this.cfg.clientSessionTtlMillis))) {
        await this.state.putSession(
          { clientId, kind, group, topics: [], settings: '{}', proxyId: this.state.proxyId, lastSeen: Date.now() },
          this.cfg.clientSessionTtlMillis,
        );
      }
    } catch (e) {
      this.log.warn('state.failed', 'could not renew the client session', { clientId }, e);
    }
  }

  async terminate(clientId: string): Promise<void> {
    await this.state.removeSession(clientId).catch(() => undefined);
  }

  // ------------------------------------------------------------------ commands

  /**
   * Writes `command` to the client's stream wherever it is: here, or through the shared state to
   * the proxy that holds it. False when no proxy holds a stream of that client.
   */
  async sendToClient(clientId: string, command: TelemetryCommand): Promise<boolean> {
    const here = this.local.get(clientId);
    if (here !== undefined) return this.write(here, command);
    const owner = await this.state.telemetryOwner(clientId).catch(() => undefined);
    if (owner === undefined) return false;
    const payload: CommandPayload = { kind: 'command', command };
    await this.state.sendCommand(owner, { clientId, payload: JSON.stringify(payload, bufferReplacer) });
    this.metrics.commandRouted('sent');
    return true;
  }

  private deliverLocal(cmd: ProxyCommand): void {
    const c = this.local.get(cmd.clientId);
    if (c === undefined) {
      this.log.warn('telemetry.lost', 'a command arrived for a client whose stream is no longer here', { clientId: cmd.clientId });
      return;
    }
    try {
      const p = JSON.parse(cmd.payload, bufferReviver) as CommandPayload;
      if (p.kind === 'command' && this.write(c, p.command)) this.metrics.commandRouted('received');
    } catch (e) {
      this.log.warn('telemetry.bad', 'undecodable routed command', { clientId: cmd.clientId }, e);
    }
  }

  /** Asks a client for its thread stacks (print_thread_stack_trace_command) and waits for the answer. */
  async threadStack(clientId: string, timeoutMs = 3000): Promise<string | undefined> {
    const nonce = randomUUID();
    const reply = this.awaitReply(nonce, timeoutMs);
    if (!(await this.sendToClient(clientId, { printThreadStackTraceCommand: { nonce } }))) return undefined;
    const r = await reply;
    return r?.threadStackTrace?.threadStackTrace ?? (r === undefined ? undefined : '');
  }

  /** Asks a client to verify (consume without acking) a message; resolves with its status. */
  async verifyMessage(clientId: string, message: Message, timeoutMs = 3000): Promise<TelemetryCommand | undefined> {
    const nonce = randomUUID();
    const reply = this.awaitReply(nonce, timeoutMs);
    if (!(await this.sendToClient(clientId, { verifyMessageCommand: { nonce, message } }))) return undefined;
    return reply;
  }

  private awaitReply(nonce: string, timeoutMs: number): Promise<TelemetryCommand | undefined> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.waiting.delete(nonce);
        resolve(undefined);
      }, timeoutMs);
      t.unref();
      this.waiting.set(nonce, (cmd) => {
        clearTimeout(t);
        this.waiting.delete(nonce);
        resolve(cmd);
      });
    });
  }

  /**
   * A broker asks about a half message: remember where it is (the answer may reach any proxy),
   * then hand recover_orphaned_transaction_command to a producer of the topic.
   */
  private async onTransactionCheck(req: TransactionCheckRequest): Promise<void> {
    const m = req.message;
    const topic = m.properties.get(MessageConst.PROPERTY_REAL_TOPIC) ?? m.topic;
    const transactionId = m.transactionId ?? req.header.transactionId ?? '';
    const brokerName = req.header.bname ?? m.brokerName;
    try {
      await this.state.putTransaction({
        brokerName,
        topic,
        producerGroup: m.properties.get(MessageConst.PROPERTY_PRODUCER_GROUP) ?? topic,
        tranStateTableOffset: req.header.tranStateTableOffset,
        commitLogOffset: req.header.commitLogOffset,
        transactionId,
        messageId: m.msgId,
        expireAt: Date.now() + this.cfg.transactionDataExpireMillis,
      });
      const producers = await this.state.producersOfTopic(topic);
      if (producers.length === 0) {
        this.log.info('tx.check.noProducer', 'no producer of the topic is connected; the broker will check again', { topic, transactionId });
        return;
      }
      const view: MessageView = { ...m, topic, receiptHandle: '', deliveryAttempt: 1, nextVisibleTime: 0 };
      const command: TelemetryCommand = { recoverOrphanedTransactionCommand: { message: toGrpcMessage(view, undefined, undefined), transactionId } };
      for (let i = 0; i < producers.length; i++) {
        const clientId = producers[(this.checkRr++ + i) % producers.length]!;
        if (await this.sendToClient(clientId, command)) return;
      }
      this.log.info('tx.check.undelivered', 'no producer stream took the check-back', { topic, transactionId });
    } catch (e) {
      this.log.warn('tx.check.failed', 'could not route a transaction check-back', { topic, transactionId }, e);
    }
  }
}

function bufferReplacer(this: unknown, _k: string, v: unknown): unknown {
  if (v !== null && typeof v === 'object' && (v as { type?: unknown }).type === 'Buffer' && Array.isArray((v as { data?: unknown }).data)) {
    return { $b64: Buffer.from((v as { data: number[] }).data).toString('base64') };
  }
  return v;
}

function bufferReviver(_k: string, v: unknown): unknown {
  if (v !== null && typeof v === 'object' && typeof (v as { $b64?: unknown }).$b64 === 'string') return Buffer.from((v as { $b64: string }).$b64, 'base64');
  return v;
}
