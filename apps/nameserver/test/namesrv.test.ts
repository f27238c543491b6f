import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  RequestCode,
  ResponseCode,
  bodyCrc32,
  decodeClusterInfo,
  decodeKVTable,
  decodeTopicList,
  decodeTopicRouteData,
  encodeRegisterBrokerBody,
  topicConfig,
} from '@rocketmq-ts/protocol';
import {
  appMain,
  freePort,
  isPidAlive,
  makeTempDir,
  removeTempDirs,
  startNode,
  stopAllProcesses,
  writeConf,
  type NodeProcess,
  RawClient,
  binRequest,
  call,
  jsonRequest,
  sleep,
} from '@rocketmq-ts/testing';

const MAIN = appMain('nameserver');
let dir: string;
let port: number;
let httpPort: number;
let confPath: string;
let ns: NodeProcess;
const raws: RawClient[] = [];

async function open(): Promise<RawClient> {
  const r = await RawClient.open(port);
  raws.push(r);
  return r;
}

async function start(): Promise<NodeProcess> {
  return startNode(MAIN, ['-c', confPath], { name: 'namesrv', readyPattern: /name server started/, timeoutMs: 20_000 });
}

/** A RegisterBrokerBody laid out as a 5.x Java broker sends it (fastjson, alphabetical fields). */
function javaRegisterBody(topics: Array<{ name: string; queues: number; perm?: number }>, counter = 1): Buffer {
  const table = topics
    .map(
      (t) =>
        `"${t.name}":{"attributes":{},"order":false,"perm":${t.perm ?? 6},"readQueueNums":${t.queues},"topicFilterType":"SINGLE_TAG",` +
        `"topicName":"${t.name}","topicSysFlag":0,"writeQueueNums":${t.queues}}`,
    )
    .join(',');
  return Buffer.from(
    `{"filterServerList":[],"topicConfigSerializeWrapper":{"dataVersion":{"counter":${counter},"stateVersion":0,"timestamp":1700000000000},` +
      `"mappingDataVersion":{"counter":0,"stateVersion":0,"timestamp":1700000000000},"topicConfigTable":{${table}},` +
      `"topicQueueMappingDetailMap":{},"topicQueueMappingInfoMap":{}}}`,
    'utf8',
  );
}

function registerHeader(o: { name: string; addr: string; id?: number; cluster?: string; extra?: Record<string, string> }): Record<string, string> {
  return {
    brokerAddr: o.addr,
    brokerId: String(o.id ?? 0),
    brokerName: o.name,
    clusterName: o.cluster ?? 'DefaultCluster',
    compressed: 'false',
    enableActingMaster: 'false',
    haServerAddr: o.addr.replace(/:\d+$/, ':10912'),
    heartbeatTimeoutMillis: '120000',
    ...(o.extra ?? {}),
  };
}

async function route(raw: RawClient, topic: string, version = 479, extra: Record<string, string> = {}) {
  const r = jsonRequest(RequestCode.GET_ROUTEINFO_BY_TOPIC, { topic, ...extra }, { version });
  return (await call(raw, r.frame, r.opaque)).cmd;
}

async function waitForRouteGone(raw: RawClient, topic: string, ms: number): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    const res = await route(raw, topic);
    if (res.code === ResponseCode.TOPIC_NOT_EXIST) return Date.now() - t0;
    if (Date.now() - t0 > ms) throw new Error(`route of ${topic} still there after ${ms} ms`);
    await sleep(50);
  }
}

beforeAll(async () => {
  dir = makeTempDir('namesrv-test');
  port = await freePort();
  httpPort = await freePort();
  confPath = writeConf(dir, 'namesrv.conf', {
    listenPort: port,
    metricsPromExporterPort: httpPort,
    bindAddress: '127.0.0.1',
    kvConfigPath: join(dir, 'kv', 'kvConfig.json'),
    scanNotActiveBrokerInterval: 100,
    orderMessageEnable: true,
  });
  ns = await start();
});

afterAll(async () => {
  for (const r of raws.splice(0)) r.destroy();
  await stopAllProcesses();
  removeTempDirs();
});

describe('wire basics', () => {
  it('answers hand-built JSON and ROCKETMQ frames in their own serialisation', async () => {
    const raw = await open();
    const a = jsonRequest(RequestCode.GET_KV_CONFIG, { namespace: 'nope', key: 'k' });
    const ra = await call(raw, a.frame, a.opaque);
    expect(ra.serializeType).toBe(0);
    expect(ra.cmd.code).toBe(ResponseCode.QUERY_NOT_FOUND);
    expect(ra.cmd.flag & 1).toBe(1);
    expect(ra.cmd.version).toBe(479);
    const b = binRequest(RequestCode.GET_KV_CONFIG, { namespace: 'nope', key: 'k' });
    const rb = await call(raw, b.frame, b.opaque);
    expect(rb.serializeType).toBe(1);
    expect(rb.cmd.code).toBe(ResponseCode.QUERY_NOT_FOUND);
    expect(rb.cmd.remark).toContain('nope');
  });

  it('unknown code → REQUEST_CODE_NOT_SUPPORTED with the RocketMQ remark', async () => {
    const raw = await open();
    const r = jsonRequest(9999, null);
    const res = await call(raw, r.frame, r.opaque);
    expect(res.cmd.code).toBe(ResponseCode.REQUEST_CODE_NOT_SUPPORTED);
    expect(res.cmd.remark).toBe(' request type 9999 not supported');
  });

  it('a missing required header field → error reply naming the field', async () => {
    const raw = await open();
    const r = jsonRequest(RequestCode.GET_ROUTEINFO_BY_TOPIC, { acceptStandardJsonOnly: 'true' });
    const res = await call(raw, r.frame, r.opaque);
    expect(res.cmd.code).toBe(ResponseCode.SYSTEM_ERROR);
    expect(res.cmd.remark).toMatch(/\btopic\b/);
    const b = binRequest(RequestCode.REGISTER_BROKER, { brokerName: 'x', clusterName: 'c', haServerAddr: 'h', brokerId: '0' });
    const rb = await call(raw, b.frame, b.opaque);
    expect(rb.cmd.code).toBe(ResponseCode.SYSTEM_ERROR);
    expect(rb.cmd.remark).toContain('brokerAddr');
  });
});

describe('broker registration and routes', () => {
  it('registers a broker (Java-shaped body) and serves its route in both JSON forms', async () => {
    const broker = await open();
    const body = javaRegisterBody([
      { name: 'TopicA', queues: 4 },
      { name: 'TBW102', queues: 8, perm: 7 },
    ]);
    const reg = jsonRequest(
      RequestCode.REGISTER_BROKER,
      registerHeader({ name: 'broker-a', addr: '127.0.0.1:10911', extra: { bodyCrc32: String(bodyCrc32(body)) } }),
      { body },
    );
    const res = await call(broker, reg.frame, reg.opaque);
    expect(res.cmd.code).toBe(ResponseCode.SUCCESS);

    const client = await open();
    const std = await route(client, 'TopicA', 479);
    expect(std.code).toBe(ResponseCode.SUCCESS);
    const stdText = std.body!.toString();
    expect(stdText).toContain('"brokerAddrs":{"0":"127.0.0.1:10911"}');
    expect(() => JSON.parse(stdText)).not.toThrow();

    const old = await route(client, 'TopicA', 400);
    const oldText = old.body!.toString();
    expect(oldText).toContain('"brokerAddrs":{0:"127.0.0.1:10911"}');
    expect(() => JSON.parse(oldText)).toThrow();

    const asked = await route(client, 'TopicA', 300, { acceptStandardJsonOnly: 'true' });
    expect(asked.body!.toString()).toContain('{"0":"127.0.0.1:10911"}');

    for (const text of [stdText, oldText]) {
      const r = decodeTopicRouteData(text);
      expect(r.queueDatas).toEqual([{ brokerName: 'broker-a', readQueueNums: 4, writeQueueNums: 4, perm: 6, topicSysFlag: 0 }]);
      expect(r.brokerDatas[0]!.cluster).toBe('DefaultCluster');
      expect(r.brokerDatas[0]!.brokerAddrs.get(0)).toBe('127.0.0.1:10911');
    }

    // a slave of the same group learns its master
    const slave = await open();
    const sreg = binRequest(RequestCode.REGISTER_BROKER, registerHeader({ name: 'broker-a', addr: '127.0.0.1:10921', id: 1 }), { body });
    const sres = await call(slave, sreg.frame, sreg.opaque);
    expect(sres.cmd.code).toBe(ResponseCode.SUCCESS);
    expect(sres.cmd.ext('masterAddr')).toBe('127.0.0.1:10911');
    expect(sres.cmd.ext('haServerAddr')).toBe('127.0.0.1:10912');

    // cluster info: always fastjson's default form
    const ci = jsonRequest(RequestCode.GET_BROKER_CLUSTER_INFO, null);
    const cires = (await call(client, ci.frame, ci.opaque)).cmd;
    expect(cires.body!.toString()).toContain('{0:"127.0.0.1:10911",1:"127.0.0.1:10921"}');
    const info = decodeClusterInfo(cires.body!);
    expect(info.clusterAddrTable.get('DefaultCluster')).toEqual(['broker-a']);

    // topic lists
    const all = jsonRequest(RequestCode.GET_ALL_TOPIC_LIST_FROM_NAMESERVER, null);
    expect(decodeTopicList((await call(client, all.frame, all.opaque)).cmd.body!).topicList.sort()).toEqual(['TBW102', 'TopicA']);
    const byCluster = jsonRequest(RequestCode.GET_TOPICS_BY_CLUSTER, { cluster: 'DefaultCluster' });
    expect(decodeTopicList((await call(client, byCluster.frame, byCluster.opaque)).cmd.body!).topicList.sort()).toEqual(['TBW102', 'TopicA']);
    const sys = jsonRequest(RequestCode.GET_SYSTEM_TOPIC_LIST_FROM_NS, null);
    const sysList = decodeTopicList((await call(client, sys.frame, sys.opaque)).cmd.body!);
    expect(sysList.topicList).toEqual(['DefaultCluster', 'broker-a']);
    expect(sysList.brokerAddr).toMatch(/^127\.0\.0\.1:109[12]1$/);

    // closing the master's connection removes its address; closing the slave's removes the group
    broker.destroy();
    slave.destroy();
    const took = await waitForRouteGone(client, 'TopicA', 2000);
    expect(took).toBeLessThan(2000);
  });

  it('accepts the compressed body and checks bodyCrc32', async () => {
    const broker = await open();
    const body = encodeRegisterBrokerBody(
      {
        topicConfigSerializeWrapper: {
          topicConfigTable: new Map([
            ['Zipped', topicConfig('Zipped', { readQueueNums: 2, writeQueueNums: 3 })],
            ['Other', topicConfig('Other')],
          ]),
          dataVersion: { stateVersion: 0, timestamp: Date.now(), counter: 5 },
        },
        filterServerList: [],
      },
      true,
    );
    const bad = jsonRequest(
      RequestCode.REGISTER_BROKER,
      registerHeader({ name: 'broker-z', addr: '127.0.0.1:11911', extra: { compressed: 'true', bodyCrc32: '12345' } }),
      { body },
    );
    const badRes = await call(broker, bad.frame, bad.opaque);
    expect(badRes.cmd.code).toBe(ResponseCode.SYSTEM_ERROR);
    expect(badRes.cmd.remark).toBe('crc32 not match');

    const good = jsonRequest(
      RequestCode.REGISTER_BROKER,
      registerHeader({ name: 'broker-z', addr: '127.0.0.1:11911', extra: { compressed: 'true', bodyCrc32: String(bodyCrc32(body)) } }),
      { body },
    );
    expect((await call(broker, good.frame, good.opaque)).cmd.code).toBe(ResponseCode.SUCCESS);
    const r = decodeTopicRouteData((await route(broker, 'Zipped')).body!);
    expect(r.queueDatas[0]).toMatchObject({ brokerName: 'broker-z', readQueueNums: 2, writeQueueNums: 3 });

    // data version, heartbeat, admin ops
    const qdv = jsonRequest(
      RequestCode.QUERY_DATA_VERSION,
      { brokerName: 'broker-z', brokerAddr: '127.0.0.1:11911', clusterName: 'DefaultCluster', brokerId: '0' },
      {
        body: Buffer.from('{"counter":5,"stateVersion":0,"timestamp":1}'),
      },
    );
    const qres = (await call(broker, qdv.frame, qdv.opaque)).cmd;
    expect(qres.ext('changed')).toBe('true');
    const hb = jsonRequest(RequestCode.BROKER_HEARTBEAT, { brokerName: 'broker-z', brokerAddr: '127.0.0.1:11911', clusterName: 'DefaultCluster' });
    expect((await call(broker, hb.frame, hb.opaque)).cmd.code).toBe(ResponseCode.SUCCESS);

    const wipe = jsonRequest(RequestCode.WIPE_WRITE_PERM_OF_BROKER, { brokerName: 'broker-z' });
    expect((await call(broker, wipe.frame, wipe.opaque)).cmd.ext('wipeTopicCount')).toBe('2');
    expect(decodeTopicRouteData((await route(broker, 'Zipped')).body!).queueDatas[0]!.perm).toBe(4);
    const add = jsonRequest(RequestCode.ADD_WRITE_PERM_OF_BROKER, { brokerName: 'broker-z' });
    expect((await call(broker, add.frame, add.opaque)).cmd.ext('addTopicCount')).toBe('2');
    expect(decodeTopicRouteData((await route(broker, 'Zipped')).body!).queueDatas[0]!.perm).toBe(6);

    const del = jsonRequest(RequestCode.DELETE_TOPIC_IN_NAMESRV, { topic: 'Other' });
    expect((await call(broker, del.frame, del.opaque)).cmd.code).toBe(ResponseCode.SUCCESS);
    expect((await route(broker, 'Other')).code).toBe(ResponseCode.TOPIC_NOT_EXIST);

    const regTopic = jsonRequest(
      RequestCode.REGISTER_TOPIC_IN_NAMESRV,
      { topic: 'Manual' },
      {
        body: Buffer.from('{"queueDatas":[{"brokerName":"broker-z","perm":6,"readQueueNums":1,"topicSysFlag":0,"writeQueueNums":1}],"brokerDatas":[]}'),
      },
    );
    expect((await call(broker, regTopic.frame, regTopic.opaque)).cmd.code).toBe(ResponseCode.SUCCESS);
    expect((await route(broker, 'Manual')).code).toBe(ResponseCode.SUCCESS);

    const unreg = jsonRequest(RequestCode.UNREGISTER_BROKER, {
      brokerName: 'broker-z',
      brokerAddr: '127.0.0.1:11911',
      clusterName: 'DefaultCluster',
      brokerId: '0',
    });
    expect((await call(broker, unreg.frame, unreg.opaque)).cmd.code).toBe(ResponseCode.SUCCESS);
    expect((await route(broker, 'Zipped')).code).toBe(ResponseCode.TOPIC_NOT_EXIST);
  });

  it('expires a broker heartbeatTimeoutMillis after its last registration', async () => {
    const broker = await open();
    const body = javaRegisterBody([
      { name: 'Short', queues: 1 },
      { name: 'Short2', queues: 1 },
    ]);
    const reg = jsonRequest(
      RequestCode.REGISTER_BROKER,
      registerHeader({ name: 'broker-s', addr: '127.0.0.1:12911', extra: { heartbeatTimeoutMillis: '600' } }),
      { body },
    );
    expect((await call(broker, reg.frame, reg.opaque)).cmd.code).toBe(ResponseCode.SUCCESS);
    const client = await open();
    expect((await route(client, 'Short')).code).toBe(ResponseCode.SUCCESS);
    const took = await waitForRouteGone(client, 'Short', 3000);
    expect(took).toBeGreaterThanOrEqual(300);
    await broker.waitClosed(2000); // the name server closes an expired broker's connection
  });

  it('returns the ORDER_TOPIC_CONFIG KV table to brokers and orderTopicConf in routes', async () => {
    const c = await open();
    const put = jsonRequest(RequestCode.PUT_KV_CONFIG, { namespace: 'ORDER_TOPIC_CONFIG', key: 'Ordered', value: 'broker-o:4' });
    expect((await call(c, put.frame, put.opaque)).cmd.code).toBe(ResponseCode.SUCCESS);
    const body = javaRegisterBody([
      { name: 'Ordered', queues: 4 },
      { name: 'X', queues: 1 },
    ]);
    const reg = jsonRequest(RequestCode.REGISTER_BROKER, registerHeader({ name: 'broker-o', addr: '127.0.0.1:13911' }), { body });
    const res = (await call(c, reg.frame, reg.opaque)).cmd;
    expect(decodeKVTable(res.body!).get('Ordered')).toBe('broker-o:4');
    expect(decodeTopicRouteData((await route(c, 'Ordered')).body!).orderTopicConf).toBe('broker-o:4');
    const del = jsonRequest(RequestCode.DELETE_KV_CONFIG, { namespace: 'ORDER_TOPIC_CONFIG', key: 'Ordered' });
    await call(c, del.frame, del.opaque);
  });
});

describe('KV config and own config', () => {
  it('KV config survives a restart and is stored as {"configTable":{ns:{k:v}}}', async () => {
    const c = await open();
    const put = binRequest(RequestCode.PUT_KV_CONFIG, { namespace: 'NS', key: 'k1', value: 'v1' });
    expect((await call(c, put.frame, put.opaque)).cmd.code).toBe(ResponseCode.SUCCESS);
    const list = jsonRequest(RequestCode.GET_KVLIST_BY_NAMESPACE, { namespace: 'NS' });
    expect(decodeKVTable((await call(c, list.frame, list.opaque)).cmd.body!).get('k1')).toBe('v1');
    const kvFile = join(dir, 'kv', 'kvConfig.json');
    expect(JSON.parse(readFileSync(kvFile, 'utf8'))).toEqual({ configTable: { NS: { k1: 'v1' } } });

    expect(await ns.stop()).toBe(0);
    expect(ns.output()).toMatch(/shutting down/);
    expect(ns.output()).toMatch(/stopped/);
    ns = await start();
    expect(ns.output()).toMatch(/KV config loaded with 1 entries/);
    const c2 = await open();
    const get = jsonRequest(RequestCode.GET_KV_CONFIG, { namespace: 'NS', key: 'k1' });
    const res = (await call(c2, get.frame, get.opaque)).cmd;
    expect(res.code).toBe(ResponseCode.SUCCESS);
    expect(res.ext('value')).toBe('v1');
    const put2 = jsonRequest(RequestCode.PUT_KV_CONFIG, { namespace: 'NS', key: 'k2', value: 'v2' });
    await call(c2, put2.frame, put2.opaque);
    expect(existsSync(kvFile + '.bak')).toBe(true);
  });

  it('GET_NAMESRV_CONFIG / UPDATE_NAMESRV_CONFIG use properties text', async () => {
    const c = await open();
    const get = jsonRequest(RequestCode.GET_NAMESRV_CONFIG, null);
    expect((await call(c, get.frame, get.opaque)).cmd.body!.toString()).toContain(`listenPort=${port}`);
    const upd = jsonRequest(RequestCode.UPDATE_NAMESRV_CONFIG, null, { body: Buffer.from('enableAllTopicList=false\n') });
    expect((await call(c, upd.frame, upd.opaque)).cmd.code).toBe(ResponseCode.SUCCESS);
    const all = jsonRequest(RequestCode.GET_ALL_TOPIC_LIST_FROM_NAMESERVER, null);
    expect((await call(c, all.frame, all.opaque)).cmd.code).toBe(ResponseCode.SYSTEM_ERROR);
    const back = jsonRequest(RequestCode.UPDATE_NAMESRV_CONFIG, null, { body: Buffer.from('enableAllTopicList=true\n') });
    await call(c, back.frame, back.opaque);
    const black = jsonRequest(RequestCode.UPDATE_NAMESRV_CONFIG, null, { body: Buffer.from('kvConfigPath=/tmp/x\n') });
    expect((await call(c, black.frame, black.opaque)).cmd.code).toBe(ResponseCode.NO_PERMISSION);
    const bad = jsonRequest(RequestCode.UPDATE_NAMESRV_CONFIG, null, { body: Buffer.from('scanNotActiveBrokerInterval=soon\n') });
    expect((await call(c, bad.frame, bad.opaque)).cmd.code).toBe(ResponseCode.INVALID_PARAMETER);
  });
});

describe('process', () => {
  it('serves /metrics and /health over HTTP', async () => {
    const health = await fetch(`http://127.0.0.1:${httpPort}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'UP' });
    const ready = await fetch(`http://127.0.0.1:${httpPort}/ready`);
    expect(ready.status).toBe(200);
    const metrics = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
    expect(metrics).toContain('rocketmq_rpc_latency_bucket');
    expect(metrics).toMatch(/rocketmq_namesrv_requests_total\{[^}]*request_code="101"/);
    expect(metrics).toContain('rocketmq_namesrv_brokers_live');
    expect(isPidAlive(ns.pid)).toBe(true);
  });

  it('-p prints the effective config and exits 0', () => {
    const out = execFileSync(process.execPath, [MAIN, '-c', confPath, '-p', '--waitSecondsForService=7'], { encoding: 'utf8', timeout: 15_000 });
    expect(out).toContain(`listenPort=${port}`);
    expect(out).toContain('waitSecondsForService=7');
    expect(out).toContain('serverChannelMaxIdleTimeSeconds=120');
  });

  it('invalid config → one clear line, exit 1', () => {
    const bad = writeConf(dir, 'bad.conf', { listenPort: 'abc' });
    const r = spawnSync(process.execPath, [MAIN, '-c', bad], { encoding: 'utf8', timeout: 15_000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/invalid configuration: listenPort: expected an integer, got "abc"/);
  });

  it('port in use → one line naming the port and property, exit 1', () => {
    const r = spawnSync(process.execPath, [MAIN, '-c', confPath, `--metricsPromExporterPort=0`], { encoding: 'utf8', timeout: 15_000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`listenPort ${port} is already in use`);
  });
});
