#!/usr/bin/env node
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { LitePullConsumer, Message, Producer, parseNamesrvAddr, type ClientLogger, type MessageQueue, type ReceivedMessage } from '@rocketmq-ts/client';
import { MQError, MixAll, perm2String, selectBrokerAddr } from '@rocketmq-ts/protocol';
import { MQAdmin } from './admin.js';
import { formatKeyValues, formatTable, formatTime, toJson } from './format.js';

export interface CliIO {
  out(s: string): void;
  err(s: string): void;
  env: Record<string, string | undefined>;
}

interface OptSpec {
  short: string;
  long: string;
  desc: string;
  required?: boolean;
  /** Takes no value (its presence means true). */
  flag?: boolean;
}

interface Ctx {
  admin: MQAdmin;
  opt: (short: string) => string | undefined;
  has: (short: string) => boolean;
  json: boolean;
  io: CliIO;
  namesrv: string[];
  /** Client options for SDK objects (producers, consumers) the command creates. */
  clientOpts: { namesrvAddr: string[]; logger: ClientLogger };
}

interface Command {
  name: string;
  desc: string;
  opts: OptSpec[];
  run(ctx: Ctx): Promise<void>;
}

const N: OptSpec = { short: 'n', long: 'namesrvAddr', desc: 'name server address list, eg: 192.168.0.1:9876;192.168.0.2:9876' };
const opt = (short: string, long: string, desc: string, required = false, flag = false): OptSpec => ({ short, long, desc, required, flag });

class UsageError extends Error {}

const bool = (v: string | undefined, d: boolean): boolean => (v === undefined ? d : v.trim().toLowerCase() === 'true');
const int = (v: string | undefined, d: number, name: string): number => {
  if (v === undefined) return d;
  const n = Number(v);
  if (!Number.isInteger(n)) throw new UsageError(`${name} must be an integer, got "${v}"`);
  return n;
};

/** "now", epoch ms, or yyyy-MM-dd#HH:mm:ss:SSS (mqadmin's formats). */
export function parseTimestamp(v: string): number {
  if (v === 'now') return Date.now();
  if (/^-?\d+$/.test(v)) return Number(v);
  const m = /^(\d{4})-(\d{2})-(\d{2})#(\d{2}):(\d{2}):(\d{2})(?::(\d{3}))?$/.exec(v);
  if (!m) throw new UsageError(`bad timestamp "${v}": use now, milliseconds, or yyyy-MM-dd#HH:mm:ss:SSS`);
  return new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]), Number(m[7] ?? 0)).getTime();
}

/** Broker addresses from -b or from the masters of -c (one of them is required). */
async function targets(ctx: Ctx): Promise<string[]> {
  const b = ctx.opt('b');
  const c = ctx.opt('c');
  if (b) return [b];
  if (!c) throw new UsageError('give a broker address (-b) or a cluster name (-c)');
  return (await ctx.admin.masterAddrs({ cluster: c })).map((m) => m.addr);
}

function messageDetail(m: ReceivedMessage): Array<[string, string | number]> {
  const props = [...m.properties.entries()].map(([k, v]) => `${k}=${v}`).join(', ');
  return [
    ['OffsetID', m.offsetMsgId],
    ['Topic', m.topic],
    ['Tags', `[${m.tags ?? ''}]`],
    ['Keys', `[${m.keys.join(' ')}]`],
    ['Queue ID', m.queueId],
    ['Queue Offset', m.queueOffset],
    ['CommitLog Offset', m.commitLogOffset],
    ['Reconsume Times', m.reconsumeTimes],
    ['Born Timestamp', formatTime(m.bornTimestamp)],
    ['Store Timestamp', formatTime(m.storeTimestamp)],
    ['Born Host', `${m.bornHost.address}:${m.bornHost.port}`],
    ['Store Host', `${m.storeHost.address}:${m.storeHost.port}`],
    ['System Flag', m.sysFlag],
    ['Properties', `{${props}}`],
    ['Message Body', m.body.toString('utf8')],
  ];
}

function messageJson(m: ReceivedMessage): Record<string, unknown> {
  return {
    msgId: m.msgId,
    offsetMsgId: m.offsetMsgId,
    topic: m.topic,
    brokerName: m.brokerName,
    tags: m.tags,
    keys: m.keys,
    queueId: m.queueId,
    queueOffset: m.queueOffset,
    commitLogOffset: m.commitLogOffset,
    reconsumeTimes: m.reconsumeTimes,
    bornTimestamp: m.bornTimestamp,
    storeTimestamp: m.storeTimestamp,
    bornHost: `${m.bornHost.address}:${m.bornHost.port}`,
    storeHost: `${m.storeHost.address}:${m.storeHost.port}`,
    sysFlag: m.sysFlag,
    properties: Object.fromEntries(m.properties),
    body: m.body.toString('utf8'),
  };
}

const COMMANDS: Command[] = [
  {
    name: 'updateTopic',
    desc: 'Update or create topic',
    opts: [opt('b', 'brokerAddr', 'create topic to which broker'), opt('c', 'clusterName', 'create topic to which cluster'), opt('t', 'topic', 'topic name', true), opt('r', 'readQueueNums', 'set read queue nums'), opt('w', 'writeQueueNums', 'set write queue nums'), opt('p', 'perm', 'set topic\'s permission(2|4|6), intro[2:W 4:R; 6:RW]'), opt('o', 'order', 'set topic\'s order(true|false)'), opt('a', 'attributes', 'attribute(+a=b,+c=d,-e)')],
    async run(ctx) {
      const cfg = {
        topic: ctx.opt('t')!,
        readQueueNums: int(ctx.opt('r'), 8, 'readQueueNums'),
        writeQueueNums: int(ctx.opt('w'), 8, 'writeQueueNums'),
        perm: int(ctx.opt('p'), 6, 'perm'),
        order: bool(ctx.opt('o'), false),
        ...(ctx.opt('a') ? { attributes: ctx.opt('a')! } : {}),
      };
      const addrs = await targets(ctx);
      for (const addr of addrs) {
        await ctx.admin.createOrUpdateTopic(addr, cfg);
        if (!ctx.json) ctx.io.out(`create topic to ${addr} success.\n`);
      }
      ctx.io.out(ctx.json ? toJson({ brokers: addrs, topicConfig: cfg }) : `TopicConfig [topicName=${cfg.topic}, readQueueNums=${cfg.readQueueNums}, writeQueueNums=${cfg.writeQueueNums}, perm=${perm2String(cfg.perm)}, order=${cfg.order}]\n`);
    },
  },
  {
    name: 'deleteTopic',
    desc: 'Delete topic from broker and NameServer',
    opts: [opt('t', 'topic', 'topic name', true), opt('c', 'clusterName', 'delete topic from which cluster')],
    async run(ctx) {
      const topic = ctx.opt('t')!;
      const brokers = await ctx.admin.deleteTopic(topic, ctx.opt('c'));
      ctx.io.out(ctx.json ? toJson({ topic, brokers, namesrv: ctx.namesrv }) : `delete topic [${topic}] from cluster [${ctx.opt('c') ?? '*'}] success.\ndelete topic [${topic}] from NameServer success.\n`);
    },
  },
  {
    name: 'topicList',
    desc: 'Fetch all topic list from name server',
    opts: [opt('c', 'clusterModel', 'show with cluster info', false, true)],
    async run(ctx) {
      const topics = (await ctx.admin.topicList()).sort();
      if (!ctx.has('c')) {
        ctx.io.out(ctx.json ? toJson(topics) : topics.map((t) => t + '\n').join(''));
        return;
      }
      const rows: Array<[string, string]> = [];
      for (const t of topics) {
        let cluster = '';
        try {
          const r = await ctx.admin.topicRoute(t);
          cluster = [...new Set(r.brokerDatas.map((b) => b.cluster))].join(',');
        } catch {
          // route gone meanwhile
        }
        rows.push([cluster, t]);
      }
      ctx.io.out(ctx.json ? toJson(rows.map(([cluster, topic]) => ({ cluster, topic }))) : formatTable(['#Cluster Name', '#Topic'], rows));
    },
  },
  {
    name: 'topicRoute',
    desc: 'Examine topic route info',
    opts: [opt('t', 'topic', 'topic name', true), opt('l', 'list', 'Use list format to print data', false, true)],
    async run(ctx) {
      const r = await ctx.admin.topicRoute(ctx.opt('t')!);
      const data = {
        brokerDatas: r.brokerDatas.map((b) => ({ brokerAddrs: Object.fromEntries(b.brokerAddrs), brokerName: b.brokerName, cluster: b.cluster })),
        queueDatas: r.queueDatas,
        ...(r.orderTopicConf ? { orderTopicConf: r.orderTopicConf } : {}),
      };
      if (ctx.json || !ctx.has('l')) {
        ctx.io.out(toJson(data));
        return;
      }
      const rows = r.queueDatas.map((q) => {
        const bd = r.brokerDatas.find((b) => b.brokerName === q.brokerName);
        return [bd?.cluster ?? '', q.brokerName, bd ? (selectBrokerAddr(bd, true) ?? '') : '', q.readQueueNums, q.writeQueueNums, q.perm];
      });
      ctx.io.out(formatTable(['#ClusterName', '#BrokerName', '#BrokerAddr', '#ReadQueue', '#WriteQueue', '#Perm'], rows));
    },
  },
  {
    name: 'topicStatus',
    desc: 'Examine topic Status info',
    opts: [opt('t', 'topic', 'topic name', true), opt('c', 'cluster', 'cluster name or lmq parent topic, lmq is used to find the route.')],
    async run(ctx) {
      const stats = await ctx.admin.topicStats(ctx.opt('t')!);
      if (ctx.json) ctx.io.out(toJson(stats.map((s) => ({ brokerName: s.mq.brokerName, queueId: s.mq.queueId, minOffset: s.minOffset, maxOffset: s.maxOffset, lastUpdateTimestamp: s.lastUpdateTimestamp }))));
      else ctx.io.out(formatTable(['#Broker Name', '#QID', '#Min Offset', '#Max Offset', '#Last Updated'], stats.map((s) => [s.mq.brokerName, s.mq.queueId, s.minOffset, s.maxOffset, formatTime(s.lastUpdateTimestamp)])));
    },
  },
  {
    name: 'clusterList',
    desc: 'List cluster infos',
    opts: [opt('m', 'moreStats', 'Print more stats', false, true), opt('c', 'clusterName', 'which cluster')],
    async run(ctx) {
      const ci = await ctx.admin.clusterInfo();
      const rows: Array<Record<string, string | number>> = [];
      for (const [cluster, names] of [...ci.clusterAddrTable].sort((a, b) => a[0].localeCompare(b[0]))) {
        if (ctx.opt('c') && cluster !== ctx.opt('c')) continue;
        for (const name of [...names].sort()) {
          const bd = ci.brokerAddrTable.get(name);
          for (const [id, addr] of [...(bd?.brokerAddrs ?? new Map<number, string>())].sort((a, b) => a[0] - b[0])) {
            let info = new Map<string, string>();
            try {
              info = await ctx.admin.brokerRuntimeInfo(addr);
            } catch {
              // unreachable broker: print what the name server knows
            }
            rows.push({ cluster, brokerName: name, brokerId: id, addr, version: info.get('brokerVersionDesc') ?? '', inTotalToday: info.get('msgPutTotalTodayNow') ?? '', outTotalToday: info.get('msgGetTotalTodayNow') ?? '', activated: info.get('brokerActive') ?? '' });
          }
        }
      }
      if (ctx.json) ctx.io.out(toJson(rows));
      else ctx.io.out(formatTable(['#Cluster Name', '#Broker Name', '#BID', '#Addr', '#Version', '#InTotalToday', '#OutTotalToday', '#Activated'], rows.map((r) => [r['cluster'], r['brokerName'], r['brokerId'], r['addr'], r['version'], r['inTotalToday'], r['outTotalToday'], r['activated']])));
    },
  },
  {
    name: 'brokerStatus',
    desc: 'Fetch broker runtime status data',
    opts: [opt('b', 'brokerAddr', 'Broker address'), opt('c', 'clusterName', 'which cluster')],
    async run(ctx) {
      const addrs = await targets(ctx);
      const all: Record<string, Record<string, string>> = {};
      for (const addr of addrs) {
        const info = await ctx.admin.brokerRuntimeInfo(addr);
        const sorted = [...info].sort((a, b) => a[0].localeCompare(b[0]));
        all[addr] = Object.fromEntries(sorted);
        if (!ctx.json) ctx.io.out((addrs.length > 1 ? `============${addr}============\n` : '') + formatKeyValues(sorted));
      }
      if (ctx.json) ctx.io.out(toJson(addrs.length === 1 ? all[addrs[0]!] : all));
    },
  },
  {
    name: 'updateSubGroup',
    desc: 'Update or create subscription group',
    opts: [
      opt('b', 'brokerAddr', 'create subscription group to which broker'),
      opt('c', 'clusterName', 'create subscription group to which cluster'),
      opt('g', 'groupName', 'consumer group name', true),
      opt('s', 'consumeEnable', 'consume enable'),
      opt('m', 'consumeFromMinEnable', 'from min offset'),
      opt('d', 'consumeBroadcastEnable', 'broadcast'),
      opt('o', 'consumeMessageOrderly', 'consume message orderly'),
      opt('q', 'retryQueueNums', 'retry queue nums'),
      opt('r', 'retryMaxTimes', 'retry max times'),
      opt('i', 'brokerId', 'consumer from which broker id'),
      opt('w', 'whichBrokerWhenConsumeSlowly', 'which broker id when consume slowly'),
      opt('a', 'notifyConsumerIdsChanged', 'notify consumerId changed'),
    ],
    async run(ctx) {
      const g = {
        groupName: ctx.opt('g')!,
        consumeEnable: bool(ctx.opt('s'), true),
        consumeFromMinEnable: bool(ctx.opt('m'), true),
        consumeBroadcastEnable: bool(ctx.opt('d'), true),
        consumeMessageOrderly: bool(ctx.opt('o'), false),
        retryQueueNums: int(ctx.opt('q'), 1, 'retryQueueNums'),
        retryMaxTimes: int(ctx.opt('r'), 16, 'retryMaxTimes'),
        brokerId: int(ctx.opt('i'), 0, 'brokerId'),
        whichBrokerWhenConsumeSlowly: int(ctx.opt('w'), 1, 'whichBrokerWhenConsumeSlowly'),
        notifyConsumerIdsChangedEnable: bool(ctx.opt('a'), true),
      };
      const addrs = await targets(ctx);
      for (const addr of addrs) {
        await ctx.admin.createOrUpdateSubGroup(addr, g);
        if (!ctx.json) ctx.io.out(`create subscription group to ${addr} success.\n`);
      }
      if (ctx.json) ctx.io.out(toJson({ brokers: addrs, subscriptionGroupConfig: g }));
      else ctx.io.out(formatKeyValues(Object.entries(g)));
    },
  },
  {
    name: 'deleteSubGroup',
    desc: 'Delete subscription group from broker',
    opts: [opt('b', 'brokerAddr', 'delete subscription group from which broker'), opt('c', 'clusterName', 'delete subscription group from which cluster'), opt('g', 'groupName', 'subscription group name', true), opt('r', 'removeOffset', 'remove offset')],
    async run(ctx) {
      const group = ctx.opt('g')!;
      const addrs = await targets(ctx);
      for (const addr of addrs) await ctx.admin.deleteSubGroup(addr, group, bool(ctx.opt('r'), false));
      ctx.io.out(ctx.json ? toJson({ group, brokers: addrs }) : addrs.map((a) => `delete subscription group [${group}] from broker [${a}] success.\n`).join(''));
    },
  },
  {
    name: 'consumerProgress',
    desc: 'Query consumers\'s progress, speed',
    opts: [opt('g', 'groupName', 'consumer group name'), opt('t', 'topicName', 'topic name'), opt('c', 'cluster', 'Cluster name')],
    async run(ctx) {
      const group = ctx.opt('g');
      if (group) {
        const stats = await ctx.admin.consumeStats(group, ctx.opt('t'), ctx.opt('c'));
        const diffTotal = stats.reduce((s, x) => s + x.lag, 0);
        if (ctx.json) {
          ctx.io.out(toJson({ group, diffTotal, queues: stats.map((s) => ({ topic: s.mq.topic, brokerName: s.mq.brokerName, queueId: s.mq.queueId, brokerOffset: s.brokerOffset, consumerOffset: s.consumerOffset, diff: s.lag, lastTimestamp: s.lastTimestamp })) }));
          return;
        }
        ctx.io.out(formatTable(['#Topic', '#Broker Name', '#QID', '#Broker Offset', '#Consumer Offset', '#Diff', '#LastTime'], stats.map((s) => [s.mq.topic, s.mq.brokerName, s.mq.queueId, s.brokerOffset, s.consumerOffset, s.lag, formatTime(s.lastTimestamp)])));
        ctx.io.out(`\nConsume TPS: 0\nDiff Total: ${diffTotal}\n`);
        return;
      }
      // every group that has a retry topic
      const groups = (await ctx.admin.topicList()).filter((t) => t.startsWith(MixAll.RETRY_GROUP_TOPIC_PREFIX)).map((t) => t.slice(MixAll.RETRY_GROUP_TOPIC_PREFIX.length)).sort();
      const rows: Array<Record<string, string | number>> = [];
      for (const g of groups) {
        let count = 0;
        let model = '';
        try {
          const cc = await ctx.admin.consumerConnection(g);
          count = cc.connections.length;
          model = cc.messageModel;
        } catch {
          // offline group
        }
        const diff = (await ctx.admin.consumeStats(g).catch(() => [])).reduce((s, x) => s + x.lag, 0);
        rows.push({ group: g, count, model, diffTotal: diff });
      }
      ctx.io.out(ctx.json ? toJson(rows) : formatTable(['#Group', '#Count', '#Model', '#Diff Total'], rows.map((r) => [r['group'], r['count'], r['model'], r['diffTotal']])));
    },
  },
  {
    name: 'consumerConnection',
    desc: 'Query consumer\'s socket connection, client version and subscription',
    opts: [opt('g', 'consumerGroup', 'consumer group name', true), opt('b', 'brokerAddr', 'broker address')],
    async run(ctx) {
      const cc = await ctx.admin.consumerConnection(ctx.opt('g')!, ctx.opt('b'));
      if (ctx.json) {
        ctx.io.out(toJson(cc));
        return;
      }
      ctx.io.out(formatTable(['#Id', '#ClientId', '#ClientAddr', '#Language', '#Version'], cc.connections.map((c, i) => [i + 1, c.clientId, c.clientAddr, c.language, c.version])));
      ctx.io.out('\nBelow is subscription:\n');
      ctx.io.out(formatTable(['#Id', '#Topic', '#SubExpression'], cc.subscriptions.map((s, i) => [i + 1, s.topic, s.subString])));
      ctx.io.out(`\nConsumeType: ${cc.consumeType}\nMessageModel: ${cc.messageModel}\nConsumeFromWhere: ${cc.consumeFromWhere}\n`);
    },
  },
  {
    name: 'producerConnection',
    desc: 'Query producer\'s socket connection and client version',
    opts: [opt('g', 'producerGroup', 'producer group name', true), opt('t', 'topic', 'topic name', true)],
    async run(ctx) {
      const list = await ctx.admin.producerConnection(ctx.opt('g')!, ctx.opt('t')!);
      ctx.io.out(ctx.json ? toJson(list) : formatTable(['#Id', '#ClientId', '#ClientAddr', '#Language', '#Version'], list.map((c, i) => [i + 1, c.clientId, c.clientAddr, c.language, c.version])));
    },
  },
  {
    name: 'queryMsgById',
    desc: 'Query Message by Id',
    opts: [opt('i', 'msgId', 'Message Id (comma separated for several)', true), opt('t', 'topic', 'topic name (to look the id up as a unique key)')],
    async run(ctx) {
      const out: ReceivedMessage[] = [];
      for (const id of ctx.opt('i')!.split(',').map((s) => s.trim()).filter(Boolean)) out.push(...(await ctx.admin.viewMessage(id, ctx.opt('t'))));
      printMessages(ctx, out);
    },
  },
  {
    name: 'queryMsgByKey',
    desc: 'Query Message by Key',
    opts: [opt('t', 'topic', 'topic name', true), opt('k', 'msgKey', 'Message Key', true), opt('b', 'beginTimestamp', 'Begin timestamp(ms). default:0'), opt('e', 'endTimestamp', 'End timestamp(ms). default: now'), opt('m', 'maxNum', 'The maximum number of messages returned by the query, default:64')],
    async run(ctx) {
      const list = await ctx.admin.queryMessageByKey(ctx.opt('t')!, ctx.opt('k')!, ctx.opt('b') ? parseTimestamp(ctx.opt('b')!) : 0, ctx.opt('e') ? parseTimestamp(ctx.opt('e')!) : Number.MAX_SAFE_INTEGER, int(ctx.opt('m'), 64, 'maxNum'));
      if (ctx.json) ctx.io.out(toJson(list.map(messageJson)));
      else ctx.io.out(formatTable(['#Message ID', '#QID', '#Offset'], list.map((m) => [m.msgId, m.queueId, m.queueOffset])));
    },
  },
  {
    name: 'queryMsgByUniqueKey',
    desc: 'Query Message by Unique key',
    opts: [opt('i', 'msgId', 'Message Id', true), opt('t', 'topic', 'The topic of msg', true)],
    async run(ctx) {
      const list = await ctx.admin.queryMessageByUniqueKey(ctx.opt('t')!, ctx.opt('i')!);
      printMessages(ctx, list);
    },
  },
  {
    name: 'resetOffsetByTime',
    desc: 'Reset consumer offset by timestamp(without client restart)',
    opts: [opt('g', 'group', 'set the consumer group', true), opt('t', 'topic', 'set the topic', true), opt('s', 'timestamp', 'set the timestamp[now|currentTimeMillis|yyyy-MM-dd#HH:mm:ss:SSS]', true), opt('f', 'force', 'set the force rollback by timestamp switch[true|false]')],
    async run(ctx) {
      const ts = parseTimestamp(ctx.opt('s')!);
      const table = await ctx.admin.resetOffsetByTime(ctx.opt('g')!, ctx.opt('t')!, ts, bool(ctx.opt('f'), true));
      if (ctx.json) ctx.io.out(toJson(table.map(([mq, offset]) => ({ brokerName: mq.brokerName, queueId: mq.queueId, offset }))));
      else ctx.io.out(`rollback consumer offset by specified group[${ctx.opt('g')}], topic[${ctx.opt('t')}], timestamp(string)[${ctx.opt('s')}], timestamp(long)[${ts}]\n` + formatTable(['#brokerName', '#queueId', '#offset'], table.map(([mq, o]) => [mq.brokerName, mq.queueId, o])));
    },
  },
  {
    name: 'sendMessage',
    desc: 'Send a message',
    opts: [opt('t', 'topic', 'Topic name', true), opt('p', 'body', 'UTF-8 string format of the message body', true), opt('k', 'key', 'Message keys'), opt('c', 'tags', 'Message tags'), opt('b', 'broker', 'Send message to target broker'), opt('i', 'qid', 'Send message to target queue')],
    async run(ctx) {
      const p = new Producer({ ...ctx.clientOpts, group: `PID_MQADMIN_${process.pid}_${Date.now()}` });
      await p.start();
      try {
        const msg = new Message(ctx.opt('t')!, Buffer.from(ctx.opt('p')!, 'utf8'), { ...(ctx.opt('c') ? { tags: ctx.opt('c')! } : {}), ...(ctx.opt('k') ? { keys: ctx.opt('k')! } : {}) });
        let queue: MessageQueue | undefined;
        if (ctx.opt('b') || ctx.opt('i') !== undefined) {
          if (!ctx.opt('b') || ctx.opt('i') === undefined) throw new UsageError('give both the broker name (-b) and the queue id (-i)');
          queue = { topic: msg.topic, brokerName: ctx.opt('b')!, queueId: int(ctx.opt('i'), 0, 'qid') };
        }
        const r = await p.send(msg, queue ? { queue } : {});
        if (ctx.json) ctx.io.out(toJson({ brokerName: r.messageQueue.brokerName, queueId: r.messageQueue.queueId, queueOffset: r.queueOffset, sendStatus: r.sendStatus, msgId: r.msgId, offsetMsgId: r.offsetMsgId }));
        else ctx.io.out(formatTable(['#Broker Name', '#QID', '#Send Result', '#MsgId'], [[r.messageQueue.brokerName, r.messageQueue.queueId, r.sendStatus, r.msgId]]));
      } finally {
        await p.shutdown();
      }
    },
  },
  {
    name: 'consumeMessage',
    desc: 'Consume message',
    opts: [opt('t', 'topic', 'Topic name', true), opt('b', 'brokerName', 'Broker name'), opt('i', 'queueId', 'Queue Id'), opt('o', 'offset', 'Queue Offset'), opt('g', 'consumerGroup', 'Consumer Group Name'), opt('s', 'beginTimestamp', 'Begin timestamp[currentTimeMillis|yyyy-MM-dd#HH:mm:ss:SSS]'), opt('e', 'endTimestamp', 'End timestamp[currentTimeMillis|yyyy-MM-dd#HH:mm:ss:SSS]'), opt('c', 'MessageNumber', 'Number of message to be consumed')],
    async run(ctx) {
      const topic = ctx.opt('t')!;
      const max = int(ctx.opt('c'), 128, 'MessageNumber');
      const begin = ctx.opt('s') ? parseTimestamp(ctx.opt('s')!) : undefined;
      const end = ctx.opt('e') ? parseTimestamp(ctx.opt('e')!) : Number.MAX_SAFE_INTEGER;
      const lc = new LitePullConsumer({ ...ctx.clientOpts, group: ctx.opt('g') ?? MixAll.TOOLS_CONSUMER_GROUP, autoCommit: false, brokerSuspendMaxTimeMillis: 500, pullBatchSize: 32 });
      await lc.start();
      try {
        let mqs = await lc.fetchMessageQueues(topic);
        if (ctx.opt('b')) mqs = mqs.filter((q) => q.brokerName === ctx.opt('b'));
        if (ctx.opt('i') !== undefined) mqs = mqs.filter((q) => q.queueId === int(ctx.opt('i'), 0, 'queueId'));
        if (mqs.length === 0) throw new UsageError('no queue matches the broker name / queue id given');
        await lc.assign(mqs);
        const api = ctx.admin.api;
        const ends = new Map<string, number>();
        for (const q of mqs) {
          const inst = lc.clientInstance;
          const addr = inst.findBrokerAddressInSubscribe(q.brokerName)!.addr;
          const [min, maxOff] = [await api.getMinOffset(addr, q), await api.getMaxOffset(addr, q)];
          let start = min;
          if (ctx.opt('o') !== undefined) start = Math.max(min, Math.min(maxOff, int(ctx.opt('o'), 0, 'offset')));
          else if (begin !== undefined) start = await api.searchOffset(addr, q, begin);
          ends.set(`${q.brokerName}:${q.queueId}`, maxOff);
          if (start >= maxOff) ends.delete(`${q.brokerName}:${q.queueId}`);
          await lc.seek(q, Math.min(start, maxOff));
        }
        const got: ReceivedMessage[] = [];
        const done = new Set<string>();
        const deadline = Date.now() + 15_000;
        while (got.length < max && done.size < ends.size && Date.now() < deadline) {
          for (const m of await lc.poll(500)) {
            const k = `${m.brokerName}:${m.queueId}`;
            if (m.queueOffset + 1 >= (ends.get(k) ?? 0)) done.add(k);
            if (m.storeTimestamp > end || got.length >= max) continue;
            got.push(m);
          }
        }
        if (ctx.json) ctx.io.out(toJson(got.map(messageJson)));
        else for (const m of got) ctx.io.out(`Consume ok\nMSGID: ${m.msgId} ${formatKeyValues(messageDetail(m)).trimEnd().replace(/\n/g, '\n  ')}\n`);
        if (!ctx.json && got.length === 0) ctx.io.out('no message\n');
      } finally {
        await lc.shutdown();
      }
    },
  },
  {
    name: 'getBrokerConfig',
    desc: 'Get broker config by cluster or special broker',
    opts: [opt('b', 'brokerAddr', 'get which broker'), opt('c', 'clusterName', 'get which cluster')],
    async run(ctx) {
      const addrs = await targets(ctx);
      const all: Record<string, Record<string, string>> = {};
      for (const addr of addrs) {
        const cfg = [...(await ctx.admin.getBrokerConfig(addr))].sort((a, b) => a[0].localeCompare(b[0]));
        all[addr] = Object.fromEntries(cfg);
        if (!ctx.json) ctx.io.out(`============${addr}============\n` + cfg.map(([k, v]) => `${k.padEnd(50)}=  ${v}\n`).join(''));
      }
      if (ctx.json) ctx.io.out(toJson(addrs.length === 1 ? all[addrs[0]!] : all));
    },
  },
  {
    name: 'updateBrokerConfig',
    desc: 'Update broker\'s config',
    opts: [opt('b', 'brokerAddr', 'update which broker'), opt('c', 'clusterName', 'update which cluster'), opt('k', 'key', 'config key', true), opt('v', 'value', 'config value', true)],
    async run(ctx) {
      const addrs = await targets(ctx);
      for (const addr of addrs) {
        await ctx.admin.updateBrokerConfig(addr, { [ctx.opt('k')!]: ctx.opt('v')! });
        if (!ctx.json) ctx.io.out(`update broker config success, ${addr}\n`);
      }
      if (ctx.json) ctx.io.out(toJson({ brokers: addrs, key: ctx.opt('k'), value: ctx.opt('v') }));
    },
  },
  {
    name: 'getNamesrvConfig',
    desc: 'Get configs of name server.',
    opts: [],
    async run(ctx) {
      const all = await ctx.admin.namesrvConfig();
      if (ctx.json) {
        ctx.io.out(toJson(all));
        return;
      }
      for (const [addr, cfg] of all) ctx.io.out(`============${addr}============\n` + [...cfg].sort((a, b) => a[0].localeCompare(b[0])).map(([k, v]) => `${k.padEnd(50)}=  ${v}\n`).join(''));
    },
  },
];

function printMessages(ctx: Ctx, list: ReceivedMessage[]): void {
  if (ctx.json) {
    ctx.io.out(toJson(list.map(messageJson)));
    return;
  }
  if (list.length === 0) {
    ctx.io.out('no message found\n');
    return;
  }
  for (const m of list) ctx.io.out(formatKeyValues([['Message ID', m.msgId], ...messageDetail(m)]) + '\n');
}

function usage(): string {
  const w = Math.max(...COMMANDS.map((c) => c.name.length));
  return (
    'usage: mqadmin <command> [-n <namesrvAddr>] [options] [--json]\n\nThe most commonly used mqadmin commands are:\n' +
    COMMANDS.map((c) => `   ${c.name.padEnd(w)}  ${c.desc}`).join('\n') +
    '\n\nSee \'mqadmin help <command>\' for more information on a specific command.\n'
  );
}

function commandUsage(c: Command): string {
  const all = [N, ...c.opts, opt('h', 'help', 'Print help', false, true)];
  const lines = all.map((o) => ` -${o.short},--${o.long}${o.flag ? '' : ` <${o.long}>`}`.padEnd(44) + `${o.desc}${o.required ? ' (required)' : ''}`);
  lines.push(' --json'.padEnd(44) + 'print JSON for scripts');
  const required = c.opts.filter((o) => o.required).map((o) => `-${o.short} <${o.long}>`).join(' ');
  return `usage: mqadmin ${c.name} ${required ? required + ' ' : ''}[options]\n${lines.join('\n')}\n`;
}

function parseArgs(c: Command, args: readonly string[]): Map<string, string | true> {
  const specs = [N, ...c.opts, opt('h', 'help', '', false, true)];
  const out = new Map<string, string | true>();
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--json') {
      out.set('json', true);
      continue;
    }
    let name: string;
    let inline: string | undefined;
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      name = eq > 0 ? a.slice(2, eq) : a.slice(2);
      inline = eq > 0 ? a.slice(eq + 1) : undefined;
    } else if (a.startsWith('-') && a.length >= 2) {
      name = a.slice(1);
    } else {
      throw new UsageError(`unexpected argument "${a}"`);
    }
    const s = specs.find((o) => o.short === name || o.long === name);
    if (!s) throw new UsageError(`unknown option "${a}" for ${c.name}`);
    if (s.flag) {
      out.set(s.short, true);
      continue;
    }
    const v = inline ?? args[++i];
    if (v === undefined) throw new UsageError(`option -${s.short} (--${s.long}) needs a value`);
    out.set(s.short, v);
  }
  return out;
}

const silentLogger: ClientLogger = { log: () => undefined };

/** Runs one mqadmin command; returns the process exit code. */
export async function runCli(argv: readonly string[], io: CliIO = { out: (s) => void process.stdout.write(s), err: (s) => void process.stderr.write(s), env: process.env }): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '-h' || name === '--help' || name === 'help') {
    const sub = name === 'help' ? COMMANDS.find((c) => c.name === rest[0]) : undefined;
    io.out(sub ? commandUsage(sub) : usage());
    return 0;
  }
  const cmd = COMMANDS.find((c) => c.name === name) ?? COMMANDS.find((c) => c.name.toLowerCase() === name.toLowerCase());
  if (!cmd) {
    io.err(`The sub command ${name} does not exist.\n${usage()}`);
    return 1;
  }
  let parsed: Map<string, string | true>;
  try {
    parsed = parseArgs(cmd, rest);
    if (parsed.has('h')) {
      io.out(commandUsage(cmd));
      return 0;
    }
    for (const o of cmd.opts) if (o.required && !parsed.has(o.short)) throw new UsageError(`missing required option -${o.short} (--${o.long})`);
  } catch (e) {
    io.err(`${(e as Error).message}\n${commandUsage(cmd)}`);
    return 1;
  }
  const namesrv = parseNamesrvAddr((parsed.get('n') as string | undefined) ?? io.env['NAMESRV_ADDR']);
  if (namesrv.length === 0) {
    io.err('no name server address: use -n <host:port> or set NAMESRV_ADDR\n');
    return 1;
  }
  const admin = new MQAdmin({ namesrvAddr: namesrv, logger: silentLogger, mqClientApiTimeoutMs: 5_000 });
  const ctx: Ctx = {
    admin,
    opt: (s) => {
      const v = parsed.get(s);
      return typeof v === 'string' ? v : undefined;
    },
    has: (s) => parsed.has(s),
    json: parsed.has('json'),
    io,
    namesrv,
    clientOpts: { namesrvAddr: namesrv, logger: silentLogger },
  };
  try {
    await cmd.run(ctx);
    return 0;
  } catch (e) {
    if (e instanceof UsageError) io.err(`${e.message}\n${commandUsage(cmd)}`);
    else if (e instanceof MQError) io.err(`${cmd.name} command failed: ${e.message}\n`);
    else io.err(`${cmd.name} command failed: ${(e as Error).message ?? String(e)}\n`);
    return 1;
  } finally {
    await admin.shutdown();
  }
}

export const COMMAND_NAMES = COMMANDS.map((c) => c.name);

function isMain(): boolean {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMain()) {
  runCli(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`mqadmin: ${(e as Error).message}\n`);
      process.exit(1);
    },
  );
}
