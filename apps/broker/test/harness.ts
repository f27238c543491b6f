// Test harness: broker and name-server processes on free ports in temp dirs, and a client that
// speaks the remoting protocol the way RocketMQ's Java client does (JSON headers, string
// extFields, the V2 send header), with helpers for the numeric/boolean extFields other clients send.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  RemotingCommand,
  RequestCode,
  decodeMessageRecords,
  javaStringHashCode,
  signRequest,
  type DecodedMessage,
  type ExtFields,
  type SerializeType,
  type SessionCredentials,
} from '@rocketmq-ts/protocol';
import { RemotingClient, type RemotingConnection } from '@rocketmq-ts/remoting';
import { appMain, freePort, makeTempDir, retryOnPortClash, startNode, writeConf, type NodeProcess } from '@rocketmq-ts/testing';

export const BROKER_MAIN = appMain('broker');
export const NAMESRV_MAIN = appMain('nameserver');
export const SEP1 = '\u0001';
export const SEP2 = '\u0002';

export type Props = Record<string, string | number | boolean>;

export interface BrokerHandle {
  proc: NodeProcess;
  port: number;
  httpPort: number;
  dir: string;
  storeDir: string;
  confPath: string;
  addr: string;
  brokerName: string;
  /** Stops with SIGTERM (clean shutdown) and starts again on the same ports and store. */
  restart(): Promise<void>;
  stop(): Promise<number | null>;
  metrics(): Promise<string>;
}

/** Conf lines for a small, fast test broker; `props` override. */
export async function brokerProps(dir: string, props: Props = {}): Promise<Props> {
  return {
    brokerClusterName: 'TestCluster',
    brokerName: 'broker-t',
    brokerId: 0,
    brokerRole: 'ASYNC_MASTER',
    flushDiskType: 'ASYNC_FLUSH',
    listenPort: await freePort(),
    metricsPromExporterPort: await freePort(),
    // A free one: listenPort + 1 (the default) may be the port the OS hands out next.
    haListenPort: await freePort(),
    brokerIP1: '127.0.0.1',
    bindAddress: '127.0.0.1',
    storePathRootDir: join(dir, 'store'),
    storePathCommitLog: join(dir, 'store', 'commitlog'),
    mappedFileSizeCommitLog: 64 * 1024 * 1024,
    preallocateMode: 'truncate',
    deleteWhen: '04',
    fileReservedTime: 48,
    flushConsumerOffsetInterval: 500,
    flushDelayOffsetInterval: 500,
    ...props,
  };
}

export async function startBroker(
  props: Props = {},
  opts: { name?: string; dir?: string; args?: string[]; env?: Record<string, string> } = {},
): Promise<BrokerHandle> {
  const dir = opts.dir ?? makeTempDir('broker-test');
  const launchWith = (confPath: string, name: string): Promise<NodeProcess> =>
    startNode(BROKER_MAIN, ['-c', confPath, ...(opts.args ?? [])], {
      name,
      readyPattern: /broker \S+ started at/,
      timeoutMs: 20_000,
      ...(opts.env !== undefined ? { env: opts.env } : {}),
    });
  // Fresh ports on a clash: another test process may bind a port freePort just gave us.
  const { all, confPath, first } = await retryOnPortClash(async () => {
    const all = await brokerProps(dir, props);
    const confPath = writeConf(dir, 'broker.conf', all);
    return { all, confPath, first: await launchWith(confPath, opts.name ?? String(all['brokerName'])) };
  });
  const port = Number(all['listenPort']);
  const httpPort = Number(all['metricsPromExporterPort']);
  const launch = (): Promise<NodeProcess> => launchWith(confPath, first.name);
  const h: BrokerHandle = {
    proc: first,
    port,
    httpPort,
    dir,
    storeDir: String(all['storePathRootDir']),
    confPath,
    addr: `127.0.0.1:${port}`,
    brokerName: String(all['brokerName']),
    async restart() {
      await h.proc.stop('SIGTERM', 10_000);
      h.proc = await launch();
    },
    stop: () => h.proc.stop('SIGTERM', 10_000),
    async metrics() {
      const res = await fetch(`http://127.0.0.1:${httpPort}/metrics`);
      return res.text();
    },
  };
  return h;
}

export async function startNamesrv(fixedPort?: number, extra: Props = {}): Promise<{ proc: NodeProcess; port: number; addr: string }> {
  const dir = makeTempDir('namesrv-for-broker');
  const start = async (): Promise<{ proc: NodeProcess; port: number; addr: string }> => {
    const port = fixedPort ?? (await freePort());
    const confPath = writeConf(dir, 'namesrv.conf', {
      listenPort: port,
      metricsPromExporterPort: await freePort(),
      bindAddress: '127.0.0.1',
      kvConfigPath: join(dir, 'kvConfig.json'),
      scanNotActiveBrokerInterval: 200,
      ...extra,
    });
    const proc = await startNode(NAMESRV_MAIN, ['-c', confPath], { name: 'namesrv', readyPattern: /name server started/, timeoutMs: 20_000 });
    return { proc, port, addr: `127.0.0.1:${port}` };
  };
  // A fixed port is the caller's to keep (a restart on the same address): no retry on another.
  return fixedPort !== undefined ? start() : retryOnPortClash(start);
}

/** Resident set size of a process, bytes (Linux). */
export function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

export function readJson(path: string): string {
  return readFileSync(path, 'utf8');
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A properties string as the Java client builds it. */
export function props(p: Record<string, string>): string {
  let s = '';
  for (const [k, v] of Object.entries(p)) s += k + SEP1 + v + SEP2;
  return s;
}

let uniqSeq = 0;
/** A UNIQ_KEY-shaped id (32 hex chars), unique within the test process. */
export function uniqKey(): string {
  uniqSeq++;
  return ('7F000001' + (process.pid & 0xffff).toString(16).padStart(4, '0') + Date.now().toString(16).slice(-12) + uniqSeq.toString(16).padStart(8, '0'))
    .toUpperCase()
    .slice(0, 32);
}

export interface SendOptions {
  group?: string;
  queueId?: number;
  tags?: string;
  keys?: string;
  extraProps?: Record<string, string>;
  sysFlag?: number;
  reconsumeTimes?: number;
  maxReconsumeTimes?: number;
  /** Use the V1 header (SEND_MESSAGE, long names). */
  v1?: boolean;
  /** extFields as JSON numbers / booleans instead of strings. */
  typed?: boolean;
  defaultTopicQueueNums?: number;
}

export interface SubscriptionJson {
  topic: string;
  subString: string;
  expressionType?: 'TAG' | 'SQL92';
  subVersion?: number;
}

/** What a Java client would do, one request code at a time. */
export class JavaClient {
  readonly client: RemotingClient;
  readonly notifications: RemotingCommand[] = [];
  readonly clientId: string;

  constructor(
    readonly addr: string,
    opts: { serializeType?: SerializeType; clientId?: string; credentials?: SessionCredentials } = {},
  ) {
    const creds = opts.credentials;
    this.client = new RemotingClient({
      ...(opts.serializeType !== undefined ? { serializeType: opts.serializeType } : {}),
      name: 'test-client',
      ...(creds !== undefined ? { beforeRequest: (cmd: RemotingCommand) => signRequest(cmd, creds) } : {}),
    });
    this.clientId = opts.clientId ?? `127.0.0.1@${process.pid}#${Math.floor(Math.random() * 1e12)}`;
    this.client.registerHandler(RequestCode.NOTIFY_CONSUMER_IDS_CHANGED, (cmd) => {
      this.notifications.push(cmd);
      return null;
    });
  }

  request(code: number, ext: ExtFields | null, body?: Buffer | null): RemotingCommand {
    const cmd = RemotingCommand.request(code, ext, body ?? null);
    cmd.language = 'JAVA';
    cmd.version = 479;
    return cmd;
  }

  call(code: number, ext: ExtFields | null, body?: Buffer | null, timeoutMs = 5_000): Promise<RemotingCommand> {
    return this.client.invoke(this.addr, this.request(code, ext, body), timeoutMs);
  }

  oneway(code: number, ext: ExtFields | null, body?: Buffer | null): Promise<void> {
    const cmd = this.request(code, ext, body);
    cmd.markOneway();
    return this.client.invokeOneway(this.addr, cmd);
  }

  connection(): Promise<RemotingConnection> {
    return this.client.connection(this.addr);
  }

  /** SEND_MESSAGE_V2 (or V1) as DefaultMQProducer sends one message. */
  send(topic: string, body: Buffer | string, o: SendOptions = {}): Promise<RemotingCommand> {
    const p: Record<string, string> = {};
    if (o.keys !== undefined) p['KEYS'] = o.keys;
    if (o.tags !== undefined) p['TAGS'] = o.tags;
    p['WAIT'] = 'true';
    Object.assign(p, o.extraProps ?? {});
    if (!('UNIQ_KEY' in p)) p['UNIQ_KEY'] = uniqKey();
    return this.sendRaw(topic, typeof body === 'string' ? Buffer.from(body) : body, props(p), o);
  }

  sendRaw(topic: string, body: Buffer, properties: string, o: SendOptions = {}, code?: number): Promise<RemotingCommand> {
    const v1: Record<string, string | number | boolean> = {
      producerGroup: o.group ?? 'PG_TEST',
      topic,
      defaultTopic: 'TBW102',
      defaultTopicQueueNums: o.defaultTopicQueueNums ?? 4,
      queueId: o.queueId ?? 0,
      sysFlag: o.sysFlag ?? 0,
      bornTimestamp: Date.now(),
      flag: 0,
      properties,
      reconsumeTimes: o.reconsumeTimes ?? 0,
      unitMode: false,
      batch: code === RequestCode.SEND_BATCH_MESSAGE,
    };
    if (o.maxReconsumeTimes !== undefined) v1['maxReconsumeTimes'] = o.maxReconsumeTimes;
    let ext: Record<string, string | number | boolean>;
    if (o.v1) {
      ext = v1;
    } else {
      const names = [
        'producerGroup',
        'topic',
        'defaultTopic',
        'defaultTopicQueueNums',
        'queueId',
        'sysFlag',
        'bornTimestamp',
        'flag',
        'properties',
        'reconsumeTimes',
        'unitMode',
        'maxReconsumeTimes',
        'batch',
      ];
      const letters = 'abcdefghijklm';
      ext = {};
      names.forEach((n, i) => {
        if (v1[n] !== undefined) ext[letters[i]!] = v1[n]!;
      });
    }
    const wire: ExtFields = {};
    for (const [k, v] of Object.entries(ext)) wire[k] = o.typed ? v : String(v);
    return this.call(code ?? (o.v1 ? RequestCode.SEND_MESSAGE : RequestCode.SEND_MESSAGE_V2), wire, body);
  }

  /** UPDATE_AND_CREATE_TOPIC as mqadmin updateTopic sends it (string extFields); `extra` adds or overrides fields. */
  createTopic(topic: string, queues = 2, extra: Record<string, string> = {}): Promise<RemotingCommand> {
    return this.call(RequestCode.UPDATE_AND_CREATE_TOPIC, {
      topic,
      defaultTopic: 'TBW102',
      readQueueNums: String(queues),
      writeQueueNums: String(queues),
      perm: '6',
      topicFilterType: 'SINGLE_TAG',
      topicSysFlag: '0',
      order: 'false',
      ...extra,
    });
  }

  /** HEART_BEAT with a consumer group (CLUSTERING, push) and/or a producer group. */
  heartbeat(o: { consumerGroup?: string; subscriptions?: SubscriptionJson[]; producerGroup?: string; messageModel?: string }): Promise<RemotingCommand> {
    const consumerDataSet = o.consumerGroup
      ? [
          {
            consumeFromWhere: 'CONSUME_FROM_LAST_OFFSET',
            consumeType: 'CONSUME_PASSIVELY',
            groupName: o.consumerGroup,
            messageModel: o.messageModel ?? 'CLUSTERING',
            subscriptionDataSet: (o.subscriptions ?? []).map((s) => {
              const tags =
                s.expressionType === 'SQL92' || s.subString === '*'
                  ? []
                  : s.subString
                      .split('||')
                      .map((t) => t.trim())
                      .filter((t) => t !== '');
              return {
                classFilterMode: false,
                codeSet: tags.map((t) => javaStringHashCode(t)),
                expressionType: s.expressionType ?? 'TAG',
                subString: s.subString,
                subVersion: s.subVersion ?? Date.now(),
                tagsSet: tags,
                topic: s.topic,
              };
            }),
            unitMode: false,
          },
        ]
      : [];
    const body = {
      clientID: this.clientId,
      consumerDataSet,
      heartbeatFingerprint: 0,
      producerDataSet: o.producerGroup ? [{ groupName: o.producerGroup }] : [],
      withoutSub: false,
    };
    return this.call(RequestCode.HEART_BEAT, null, Buffer.from(JSON.stringify(body)));
  }

  /** PULL_MESSAGE as the push consumer sends it (suspend flag; subscription flag optional). */
  pull(o: {
    group: string;
    topic: string;
    queueId?: number;
    offset: number;
    maxMsgNums?: number;
    sysFlag?: number;
    commitOffset?: number;
    suspendTimeoutMillis?: number;
    subscription?: string;
    expressionType?: string;
    subVersion?: number;
    typed?: boolean;
    timeoutMs?: number;
    code?: number;
  }): Promise<RemotingCommand> {
    const ext: Record<string, string | number | boolean> = {
      consumerGroup: o.group,
      topic: o.topic,
      queueId: o.queueId ?? 0,
      queueOffset: o.offset,
      maxMsgNums: o.maxMsgNums ?? 32,
      sysFlag: o.sysFlag ?? 2,
      commitOffset: o.commitOffset ?? 0,
      suspendTimeoutMillis: o.suspendTimeoutMillis ?? 0,
      subVersion: o.subVersion ?? 0,
      maxMsgBytes: 262144,
    };
    if (o.subscription !== undefined) ext['subscription'] = o.subscription;
    if (o.expressionType !== undefined) ext['expressionType'] = o.expressionType;
    const wire: ExtFields = {};
    for (const [k, v] of Object.entries(ext)) wire[k] = o.typed ? v : String(v);
    return this.call(o.code ?? RequestCode.PULL_MESSAGE, wire, null, o.timeoutMs ?? 5_000);
  }

  close(): void {
    this.client.close();
  }
}

/** The messages in a pull/query/view body. */
export function records(res: RemotingCommand): DecodedMessage[] {
  return res.body ? decodeMessageRecords(res.body) : [];
}

/** Pull sysFlag bits. */
export const PULL = { COMMIT_OFFSET: 1, SUSPEND: 2, SUBSCRIPTION: 4 } as const;
