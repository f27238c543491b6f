import { Controller, Inject } from '@nestjs/common';
import { ConfigError, parseProperties, printConfig, validateConfigUpdate } from '@rocketmq-ts/common';
import {
  AddWritePermOfBrokerRequestHeader,
  BrokerHeartbeatRequestHeader,
  DeleteKVConfigRequestHeader,
  DeleteTopicFromNamesrvRequestHeader,
  GetKVConfigRequestHeader,
  GetKVListByNamespaceRequestHeader,
  GetRouteInfoRequestHeader,
  GetTopicsByClusterRequestHeader,
  MQVersion,
  MixAll,
  PutKVConfigRequestHeader,
  QueryDataVersionRequestHeader,
  RegisterBrokerRequestHeader,
  RegisterTopicRequestHeader,
  RemotingCommand,
  RequestCode,
  ResponseCode,
  UnregisterBrokerRequestHeader,
  WipeWritePermOfBrokerRequestHeader,
  bodyCrc32,
  clusterInfoToJson,
  dataVersionToJson,
  decodeDataVersion,
  decodeRegisterBrokerBody,
  decodeTopicRouteData,
  kvTableToJson,
  parseJsonBody,
  readTopicConfigSerializeWrapper,
  topicListToJson,
  topicRouteDataToJson,
  type RegisterBrokerBody,
} from '@rocketmq-ts/protocol';
import { createLogger, hideTlsSecrets, type RemotingConnection } from '@rocketmq-ts/remoting';
import { RemotingHandler } from '@rocketmq-ts/remoting/nest';
import { NAMESRV_CONFIG, NamesrvConfigSchema, type NamesrvConfig } from './config.js';
import { KvConfigManager } from './kv-config.manager.js';
import { NamesrvMetrics } from './metrics.js';
import { RouteInfoManager } from './route-info.manager.js';

const log = createLogger('namesrv');

/** Below this version a broker sends a bare TopicConfigSerializeWrapper instead of RegisterBrokerBody. */
const V3_0_11 = MQVersion.V3_0_11;

function ok(cmd: RemotingCommand, ext: Record<string, string> | null = null, body: Buffer | null = null): RemotingCommand {
  return RemotingCommand.responseTo(cmd, ResponseCode.SUCCESS, null, ext, body);
}

/**
 * Every name-server request code (RocketMQ's DefaultRequestProcessor and ClientRequestProcessor
 * together). Each method decodes its header, calls the route or KV manager, and returns the reply.
 */
@Controller()
export class NamesrvProcessor {
  private readonly startedAt = Date.now();

  constructor(
    @Inject(NAMESRV_CONFIG) private readonly config: NamesrvConfig,
    private readonly routes: RouteInfoManager,
    private readonly kv: KvConfigManager,
    private readonly metrics: NamesrvMetrics,
  ) {}

  private routeChanged(): void {
    this.metrics.setRouteCounts(this.routes.liveBrokerCount, this.routes.topicCount);
  }

  // -------------------------------------------------------------------------------------------
  // KV config

  @RemotingHandler(RequestCode.PUT_KV_CONFIG)
  putKVConfig(cmd: RemotingCommand): RemotingCommand {
    const h = PutKVConfigRequestHeader.decode(cmd.extFields);
    this.kv.put(h.namespace, h.key, h.value);
    return ok(cmd);
  }

  @RemotingHandler(RequestCode.GET_KV_CONFIG)
  getKVConfig(cmd: RemotingCommand): RemotingCommand {
    const h = GetKVConfigRequestHeader.decode(cmd.extFields);
    const value = this.kv.get(h.namespace, h.key);
    if (value === undefined) return RemotingCommand.responseTo(cmd, ResponseCode.QUERY_NOT_FOUND, `No config item, Namespace: ${h.namespace} Key: ${h.key}`);
    return ok(cmd, { value });
  }

  @RemotingHandler(RequestCode.DELETE_KV_CONFIG)
  deleteKVConfig(cmd: RemotingCommand): RemotingCommand {
    const h = DeleteKVConfigRequestHeader.decode(cmd.extFields);
    this.kv.delete(h.namespace, h.key);
    return ok(cmd);
  }

  @RemotingHandler(RequestCode.GET_KVLIST_BY_NAMESPACE)
  getKVListByNamespace(cmd: RemotingCommand): RemotingCommand {
    const h = GetKVListByNamespaceRequestHeader.decode(cmd.extFields);
    const table = this.kv.namespace(h.namespace);
    if (table === undefined) return RemotingCommand.responseTo(cmd, ResponseCode.QUERY_NOT_FOUND, `No config item, Namespace: ${h.namespace}`);
    return ok(cmd, null, Buffer.from(kvTableToJson(new Map(table)), 'utf8'));
  }

  // -------------------------------------------------------------------------------------------
  // broker registration

  @RemotingHandler(RequestCode.REGISTER_BROKER)
  registerBroker(cmd: RemotingCommand, conn: RemotingConnection): RemotingCommand {
    const h = RegisterBrokerRequestHeader.decode(cmd.extFields);
    if (h.bodyCrc32 !== undefined && h.bodyCrc32 !== 0) {
      const crc = bodyCrc32(cmd.body ?? Buffer.alloc(0));
      if (crc !== h.bodyCrc32) {
        log.warn(`register from ${conn.remoteAddress}: body crc32 ${crc} does not match the header's ${h.bodyCrc32}`);
        return RemotingCommand.responseTo(cmd, ResponseCode.SYSTEM_ERROR, 'crc32 not match');
      }
    }
    let body: RegisterBrokerBody;
    if (cmd.version >= V3_0_11 || cmd.body === null) {
      body = decodeRegisterBrokerBody(cmd.body, h.compressed === true);
    } else {
      body = { topicConfigSerializeWrapper: readTopicConfigSerializeWrapper(parseJsonBody(cmd.body, 'TopicConfigSerializeWrapper')), filterServerList: [] };
    }
    if (cmd.body === null) {
      const dv = body.topicConfigSerializeWrapper.dataVersion;
      dv.counter = 0;
      dv.timestamp = 0;
      dv.stateVersion = 0;
    }
    const result = this.routes.registerBroker({
      clusterName: h.clusterName,
      brokerAddr: h.brokerAddr,
      brokerName: h.brokerName,
      brokerId: h.brokerId,
      haServerAddr: h.haServerAddr,
      zoneName: cmd.ext('__ZONE_NAME'),
      heartbeatTimeoutMillis: h.heartbeatTimeoutMillis,
      enableActingMaster: h.enableActingMaster,
      topicConfigWrapper: body.topicConfigSerializeWrapper,
      filterServerList: body.filterServerList,
      conn,
    });
    this.routeChanged();
    if (result === null) return RemotingCommand.responseTo(cmd, ResponseCode.SYSTEM_ERROR, 'register broker failed');
    const ext: Record<string, string> = {};
    if (result.haServerAddr !== undefined) ext['haServerAddr'] = result.haServerAddr;
    if (result.masterAddr !== undefined) ext['masterAddr'] = result.masterAddr;
    let out: Buffer | null = null;
    if (this.config.returnOrderTopicConfigToBroker) {
      const order = this.kv.namespace(MixAll.ORDER_TOPIC_CONFIG);
      if (order !== undefined) out = Buffer.from(kvTableToJson(new Map(order)), 'utf8');
    }
    return ok(cmd, ext, out);
  }

  @RemotingHandler(RequestCode.UNREGISTER_BROKER)
  unregisterBroker(cmd: RemotingCommand): RemotingCommand {
    const h = UnregisterBrokerRequestHeader.decode(cmd.extFields);
    this.routes.unregisterBroker(h.clusterName, h.brokerAddr, h.brokerName, h.brokerId);
    this.routeChanged();
    return ok(cmd);
  }

  @RemotingHandler(RequestCode.BROKER_HEARTBEAT)
  brokerHeartbeat(cmd: RemotingCommand): RemotingCommand {
    const h = BrokerHeartbeatRequestHeader.decode(cmd.extFields);
    this.routes.updateBrokerInfoUpdateTimestamp(h.clusterName, h.brokerAddr);
    return ok(cmd);
  }

  @RemotingHandler(RequestCode.QUERY_DATA_VERSION)
  queryDataVersion(cmd: RemotingCommand): RemotingCommand {
    const h = QueryDataVersionRequestHeader.decode(cmd.extFields);
    const dv = decodeDataVersion(cmd.body ?? '{}');
    const changed = this.routes.isBrokerTopicConfigChanged(h.clusterName, h.brokerAddr, dv);
    this.routes.updateBrokerInfoUpdateTimestamp(h.clusterName, h.brokerAddr);
    const ours = this.routes.queryBrokerTopicConfig(h.clusterName, h.brokerAddr);
    return ok(cmd, { changed: String(changed) }, ours === undefined ? null : Buffer.from(dataVersionToJson(ours), 'utf8'));
  }

  // -------------------------------------------------------------------------------------------
  // routes and topics

  @RemotingHandler(RequestCode.GET_ROUTEINFO_BY_TOPIC)
  getRouteInfoByTopic(cmd: RemotingCommand): RemotingCommand {
    const h = GetRouteInfoRequestHeader.decode(cmd.extFields);
    if (this.config.needWaitForService && Date.now() - this.startedAt < this.config.waitSecondsForService * 1000) {
      return RemotingCommand.responseTo(cmd, ResponseCode.SYSTEM_ERROR, 'name server not ready');
    }
    const route = this.routes.pickupTopicRouteData(h.topic);
    if (route === null) {
      return RemotingCommand.responseTo(cmd, ResponseCode.TOPIC_NOT_EXIST, `No topic route info in name server for the topic: ${h.topic}`);
    }
    if (this.config.orderMessageEnable) {
      const conf = this.kv.get(MixAll.ORDER_TOPIC_CONFIG, h.topic);
      if (conf !== undefined) route.orderTopicConf = conf;
    }
    const standard = cmd.version >= MQVersion.V4_9_4 || h.acceptStandardJsonOnly === true;
    return ok(cmd, null, Buffer.from(topicRouteDataToJson(route, standard), 'utf8'));
  }

  @RemotingHandler(RequestCode.GET_BROKER_CLUSTER_INFO)
  getBrokerClusterInfo(cmd: RemotingCommand): RemotingCommand {
    return ok(cmd, null, Buffer.from(clusterInfoToJson(this.routes.getClusterInfo(), false), 'utf8'));
  }

  @RemotingHandler(RequestCode.GET_ALL_TOPIC_LIST_FROM_NAMESERVER)
  getAllTopicList(cmd: RemotingCommand): RemotingCommand {
    if (!this.config.enableAllTopicList) return RemotingCommand.responseTo(cmd, ResponseCode.SYSTEM_ERROR, 'disable');
    return ok(cmd, null, Buffer.from(topicListToJson(this.routes.getAllTopicList()), 'utf8'));
  }

  @RemotingHandler(RequestCode.GET_TOPICS_BY_CLUSTER)
  getTopicsByCluster(cmd: RemotingCommand): RemotingCommand {
    if (!this.config.enableTopicList) return RemotingCommand.responseTo(cmd, ResponseCode.SYSTEM_ERROR, 'disable');
    const h = GetTopicsByClusterRequestHeader.decode(cmd.extFields);
    return ok(cmd, null, Buffer.from(topicListToJson(this.routes.getTopicsByCluster(h.cluster)), 'utf8'));
  }

  @RemotingHandler(RequestCode.GET_SYSTEM_TOPIC_LIST_FROM_NS)
  getSystemTopicList(cmd: RemotingCommand): RemotingCommand {
    return ok(cmd, null, Buffer.from(topicListToJson(this.routes.getSystemTopicList()), 'utf8'));
  }

  @RemotingHandler(RequestCode.REGISTER_TOPIC_IN_NAMESRV)
  registerTopic(cmd: RemotingCommand): RemotingCommand {
    const h = RegisterTopicRequestHeader.decode(cmd.extFields);
    if (cmd.body !== null && cmd.body.length > 0) {
      const route = decodeTopicRouteData(cmd.body);
      this.routes.registerTopic(h.topic, route.queueDatas);
      this.routeChanged();
    }
    return ok(cmd);
  }

  @RemotingHandler(RequestCode.DELETE_TOPIC_IN_NAMESRV)
  deleteTopic(cmd: RemotingCommand): RemotingCommand {
    const h = DeleteTopicFromNamesrvRequestHeader.decode(cmd.extFields);
    this.routes.deleteTopic(h.topic, h.clusterName);
    this.routeChanged();
    return ok(cmd);
  }

  @RemotingHandler(RequestCode.WIPE_WRITE_PERM_OF_BROKER)
  wipeWritePerm(cmd: RemotingCommand): RemotingCommand {
    const h = WipeWritePermOfBrokerRequestHeader.decode(cmd.extFields);
    const n = this.routes.changeWritePerm(h.brokerName, true);
    log.info(`write permission of ${h.brokerName} wiped on ${n} topics`);
    return ok(cmd, { wipeTopicCount: String(n) });
  }

  @RemotingHandler(RequestCode.ADD_WRITE_PERM_OF_BROKER)
  addWritePerm(cmd: RemotingCommand): RemotingCommand {
    const h = AddWritePermOfBrokerRequestHeader.decode(cmd.extFields);
    const n = this.routes.changeWritePerm(h.brokerName, false);
    log.info(`write permission of ${h.brokerName} added on ${n} topics`);
    return ok(cmd, { addTopicCount: String(n) });
  }

  // -------------------------------------------------------------------------------------------
  // own config

  @RemotingHandler(RequestCode.GET_NAMESRV_CONFIG)
  getNamesrvConfig(cmd: RemotingCommand): RemotingCommand {
    return ok(cmd, null, Buffer.from(printConfig(hideTlsSecrets(this.config)), 'utf8'));
  }

  @RemotingHandler(RequestCode.UPDATE_NAMESRV_CONFIG)
  updateNamesrvConfig(cmd: RemotingCommand): RemotingCommand {
    if (cmd.body === null || cmd.body.length === 0) return ok(cmd);
    const props = parseProperties(cmd.body.toString('utf8'));
    const blocked = new Set(
      this.config.configBlackList
        .split(';')
        .map((s) => s.trim())
        .filter((s) => s !== ''),
    );
    for (const k of props.keys()) {
      if (blocked.has(k)) return RemotingCommand.responseTo(cmd, ResponseCode.NO_PERMISSION, 'Can not update config in black list.');
    }
    let update;
    try {
      update = validateConfigUpdate(NamesrvConfigSchema, props);
    } catch (e) {
      if (e instanceof ConfigError) return RemotingCommand.responseTo(cmd, ResponseCode.INVALID_PARAMETER, e.message);
      throw e;
    }
    for (const k of update.unknown) log.warn(`UPDATE_NAMESRV_CONFIG: unknown property "${k}" ignored`);
    const updates = update.values;
    const cfg = this.config as unknown as Record<string, string | number | boolean>;
    for (const [k, v] of updates) {
      log.info(`config ${k} changed: ${String(cfg[k])} -> ${String(v)}`);
      cfg[k] = v;
    }
    return ok(cmd);
  }
}
