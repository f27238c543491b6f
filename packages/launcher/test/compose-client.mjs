// A client inside the compose network, for compose-up.test.ts: it is piped into a container of the
// cluster (`node --input-type=module - <phase> ...`) and uses @rocketmq-ts/client as deployed in the
// image (with mqadmin, under /app/tools/admin), reaching the brokers at the addresses they register. Client logs go to stderr; the last
// stdout line is `RESULT <json>`.
//
//   produce-consume <topic> <count>     create the topic on both masters, send <count> messages,
//                                       read them all back with a lite pull consumer
//   create-topic <topic>                create the topic on both masters (for clients outside the
//                                       network, which reach the cluster through the proxies)
//   caught-up <brokerName>              wait until the broker's slave reports no replication lag
//                                       (ASYNC_MASTER acknowledges before the slave has the bytes)
//   pull <topic> <brokerName> <queueId>...
//                                       pull each queue of <brokerName> from offset 0 at the
//                                       broker's slave (brokerId 1), as the name servers route it
import { LitePullConsumer, Message, Producer, decodeReceivedMessages } from '/app/tools/admin/node_modules/@rocketmq-ts/client/dist/index.js';
import { CreateTopicRequestHeader, PullSysFlag, RequestCode, decodeOffsetMsgId } from '/app/tools/admin/node_modules/@rocketmq-ts/protocol/dist/index.js';

const NAMESRV = 'namesrv-1:9876;namesrv-2:9886';
const logger = {
  log(level, event, message) {
    if (level !== 'debug') process.stderr.write(`client ${level} ${event}: ${message}\n`);
  },
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Retries `f` until it returns a value other than undefined, or throws `what` after `ms`. */
async function until(what, ms, f) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await f().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(300);
  }
}

/** brokerName → { brokerId: address } as the name servers route `topic`. */
function addrsOf(route) {
  const out = {};
  for (const b of route?.brokerDatas ?? []) out[b.brokerName] = Object.fromEntries(b.brokerAddrs);
  return out;
}

/** Creates `topic` (4 queues) on both masters once both groups are registered; returns the TBW102 route's addresses. */
async function createTopic(api, topic) {
  // Both groups with master and slave registered (TBW102 is on every broker).
  const brokers = await until('both broker groups, master and slave, in the TBW102 route', 30_000, async () => {
    const a = addrsOf(await api.getTopicRouteInfo('TBW102'));
    return ['broker-a', 'broker-b'].every((n) => a[n]?.['0'] && a[n]?.['1']) ? a : undefined;
  });
  for (const name of ['broker-a', 'broker-b']) {
    const header = CreateTopicRequestHeader.encode({
      topic,
      defaultTopic: 'TBW102',
      readQueueNums: 4,
      writeQueueNums: 4,
      perm: 6,
      topicFilterType: 'SINGLE_TAG',
      order: false,
    });
    await api.call(brokers[name]['0'], api.request(RequestCode.UPDATE_AND_CREATE_TOPIC, header));
  }
  await until(`both masters in the route of ${topic}`, 15_000, async () => {
    const a = addrsOf(await api.getTopicRouteInfo(topic));
    return a['broker-a']?.['0'] && a['broker-b']?.['0'] ? true : undefined;
  });
  return brokers;
}

async function createTopicOnly(topic) {
  const producer = new Producer({ group: 'PG_COMPOSE_TOPIC', namesrvAddr: NAMESRV, logger });
  await producer.start();
  try {
    return { brokers: await createTopic(producer.clientInstance.api, topic) };
  } finally {
    await producer.shutdown();
  }
}

async function produceConsume(topic, count) {
  const producer = new Producer({ group: 'PG_COMPOSE', namesrvAddr: NAMESRV, logger });
  await producer.start();
  const api = producer.clientInstance.api;
  try {
    const brokers = await createTopic(api, topic);

    const sent = [];
    for (let i = 0; i < count; i++) {
      const r = await producer.send(new Message(topic, Buffer.from(`compose-${i}`), { keys: `k${i}` }));
      const host = decodeOffsetMsgId(r.offsetMsgId);
      sent.push({
        msgId: r.msgId,
        status: r.sendStatus,
        brokerName: r.messageQueue.brokerName,
        queueId: r.messageQueue.queueId,
        queueOffset: r.queueOffset,
        storeHost: `${host?.address}:${host?.port}`,
      });
    }

    const consumer = new LitePullConsumer({
      group: 'LG_COMPOSE',
      namesrvAddr: NAMESRV,
      logger,
      consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET',
      brokerSuspendMaxTimeMillis: 1000,
    });
    await consumer.start();
    const received = [];
    try {
      await consumer.assign(await consumer.fetchMessageQueues(topic));
      const deadline = Date.now() + 30_000;
      while (received.length < count && Date.now() < deadline) {
        for (const m of await consumer.poll(1000)) received.push({ msgId: m.msgId, body: m.body.toString(), brokerName: m.brokerName });
      }
    } finally {
      await consumer.shutdown();
    }
    return { brokers, sent, received };
  } finally {
    await producer.shutdown();
  }
}

async function pullFromSlave(topic, brokerName, queueIds) {
  const producer = new Producer({ group: 'PG_COMPOSE_PULL', namesrvAddr: NAMESRV, logger });
  await producer.start();
  const api = producer.clientInstance.api;
  try {
    const brokers = addrsOf(await api.getTopicRouteInfo('TBW102'));
    const slave = brokers[brokerName]?.['1'];
    if (slave === undefined) return { brokers, slave: null, found: [], errors: [`no slave of ${brokerName} in the TBW102 route`] };
    const found = [];
    const errors = [];
    for (const queueId of queueIds) {
      const mq = { topic, brokerName, queueId };
      try {
        const r = await api.pullMessage(
          slave,
          {
            consumerGroup: 'CG_COMPOSE_SLAVE',
            mq,
            queueOffset: 0,
            maxMsgNums: 32,
            sysFlag: PullSysFlag.SUBSCRIPTION,
            commitOffset: 0,
            suspendTimeoutMillis: 0,
            subscription: '*',
            subVersion: 0,
            expressionType: 'TAG',
          },
          5_000,
        );
        if (r.status !== 'FOUND') errors.push(`queue ${queueId}: ${r.status} (minOffset ${r.minOffset}, maxOffset ${r.maxOffset})`);
        for (const m of decodeReceivedMessages(r.body, { brokerName })) found.push(m.msgId);
      } catch (e) {
        errors.push(`queue ${queueId}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    return { brokers, slave, found, errors };
  } finally {
    await producer.shutdown();
  }
}

async function caughtUp(brokerName) {
  const producer = new Producer({ group: 'PG_COMPOSE_HA', namesrvAddr: NAMESRV, logger });
  await producer.start();
  const api = producer.clientInstance.api;
  const t0 = Date.now();
  try {
    const slave = addrsOf(await api.getTopicRouteInfo('TBW102'))[brokerName]?.['1'];
    if (slave === undefined) return { ok: false, why: `no slave of ${brokerName}` };
    let info = {};
    await until(`${brokerName}'s slave to catch up`, 60_000, async () => {
      const res = await api.call(slave, api.request(RequestCode.GET_BROKER_RUNTIME_INFO, null));
      info = JSON.parse(res.body.toString('utf8')).table;
      return info.haConnected === 'true' && info.haBehindBytes === '0' && Number(info.haMasterOffset) > 0 ? true : undefined;
    });
    return { ok: true, ms: Date.now() - t0, masterOffset: info.haMasterOffset };
  } finally {
    await producer.shutdown();
  }
}

const [phase, ...args] = process.argv.slice(2);
let result;
if (phase === 'produce-consume') result = await produceConsume(args[0], Number(args[1]));
else if (phase === 'create-topic') result = await createTopicOnly(args[0]);
else if (phase === 'caught-up') result = await caughtUp(args[0]);
else if (phase === 'pull') result = await pullFromSlave(args[0], args[1], args.slice(2).map(Number));
else throw new Error(`unknown phase ${phase}`);
process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
process.exit(0);
