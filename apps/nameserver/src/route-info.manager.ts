import {
  MixAll,
  PermName,
  dataVersionEquals,
  type BrokerData,
  type ClusterInfo,
  type DataVersion,
  type QueueData,
  type TopicConfig,
  type TopicConfigSerializeWrapper,
  type TopicList,
  type TopicRouteData,
} from '@rocketmq-ts/protocol';
import type { Logger, RemotingConnection } from '@rocketmq-ts/remoting';

export interface BrokerLiveInfo {
  cluster: string;
  brokerAddr: string;
  lastUpdateTimestamp: number;
  heartbeatTimeoutMillis: number;
  dataVersion: DataVersion;
  conn: RemotingConnection | null;
  haServerAddr: string;
}

export interface RegisterBrokerArgs {
  clusterName: string;
  brokerAddr: string;
  brokerName: string;
  brokerId: number;
  haServerAddr: string;
  zoneName?: string | undefined;
  heartbeatTimeoutMillis?: number | undefined;
  /** undefined marks a broker older than 5.x. */
  enableActingMaster?: boolean | undefined;
  topicConfigWrapper: TopicConfigSerializeWrapper;
  filterServerList: string[];
  conn: RemotingConnection | null;
}

export interface RegisterBrokerResult {
  haServerAddr?: string;
  masterAddr?: string;
}

export interface RouteSettings {
  brokerChannelExpiredTime: number;
  deleteTopicWithBrokerRegistration: boolean;
}

const liveKey = (cluster: string, addr: string): string => cluster + '\u0000' + addr;

/**
 * The name server's in-memory route tables (remoting.md §3.10–3.11): which clusters hold which
 * broker groups, each group's addresses by broker id, each topic's queue data per group, and
 * when each broker last proved it is alive. Single-threaded, so no locks; every method leaves the
 * tables consistent.
 */
export class RouteInfoManager {
  readonly topicQueueTable = new Map<string, Map<string, QueueData>>();
  readonly brokerAddrTable = new Map<string, BrokerData>();
  readonly clusterAddrTable = new Map<string, Set<string>>();
  readonly brokerLiveTable = new Map<string, BrokerLiveInfo>();
  readonly filterServerTable = new Map<string, string[]>();

  constructor(
    private readonly settings: RouteSettings,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  get liveBrokerCount(): number {
    return this.brokerLiveTable.size;
  }

  get topicCount(): number {
    return this.topicQueueTable.size;
  }

  // -------------------------------------------------------------------------------------------
  // registration

  /** null = refused (an incremental registration from a broker we do not know). */
  registerBroker(a: RegisterBrokerArgs): RegisterBrokerResult | null {
    const result: RegisterBrokerResult = {};
    let brokerNames = this.clusterAddrTable.get(a.clusterName);
    if (brokerNames === undefined) this.clusterAddrTable.set(a.clusterName, (brokerNames = new Set()));
    brokerNames.add(a.brokerName);

    let registerFirst = false;
    let bd = this.brokerAddrTable.get(a.brokerName);
    if (bd === undefined) {
      registerFirst = true;
      bd = { cluster: a.clusterName, brokerName: a.brokerName, brokerAddrs: new Map(), enableActingMaster: false };
      this.brokerAddrTable.set(a.brokerName, bd);
    }
    const isOldVersionBroker = a.enableActingMaster === undefined;
    bd.enableActingMaster = !isOldVersionBroker && a.enableActingMaster === true;
    if (a.zoneName !== undefined) bd.zoneName = a.zoneName;
    const addrs = bd.brokerAddrs;

    // One address holds one id: a slave turning master re-registers the same address as id 0.
    for (const [id, addr] of addrs) if (addr === a.brokerAddr && id !== a.brokerId) addrs.delete(id);

    // Another address under this id with a newer state version wins; this registration is ignored.
    const oldAddr = addrs.get(a.brokerId);
    if (oldAddr !== undefined && oldAddr !== a.brokerAddr) {
      const old = this.brokerLiveTable.get(liveKey(a.clusterName, oldAddr));
      if (old !== undefined && old.dataVersion.stateVersion > a.topicConfigWrapper.dataVersion.stateVersion) {
        this.log.warn(
          `registration of ${a.brokerName}[${a.brokerId}] at ${a.brokerAddr} ignored: ${oldAddr} holds that id with a newer state version ` +
            `(${old.dataVersion.stateVersion} > ${a.topicConfigWrapper.dataVersion.stateVersion})`,
        );
        this.brokerLiveTable.delete(liveKey(a.clusterName, a.brokerAddr));
        return result;
      }
    }

    if (!addrs.has(a.brokerId) && a.topicConfigWrapper.topicConfigTable.size === 1) {
      this.log.warn(`incremental registration from ${a.brokerName}[${a.brokerId}] at ${a.brokerAddr} refused: the broker has not registered fully yet`);
      return null;
    }

    const prevAddr = addrs.get(a.brokerId);
    addrs.set(a.brokerId, a.brokerAddr);
    registerFirst = registerFirst || prevAddr === undefined || prevAddr === '';

    const isMaster = a.brokerId === MixAll.MASTER_ID;
    let minId = Infinity;
    for (const id of addrs.keys()) if (id < minId) minId = id;
    const isPrimeSlave = !isOldVersionBroker && !isMaster && a.brokerId === minId;

    if (isMaster || isPrimeSlave) {
      const tcTable = a.topicConfigWrapper.topicConfigTable;
      const mapping = a.topicConfigWrapper.topicQueueMappingInfoMap;
      if (this.settings.deleteTopicWithBrokerRegistration && (mapping === undefined || mapping.size === 0)) {
        for (const topic of this.topicsOfBroker(a.brokerName)) {
          if (tcTable.has(topic)) continue;
          const qds = this.topicQueueTable.get(topic)!;
          qds.delete(a.brokerName);
          this.log.info(`topic ${topic} removed from ${a.brokerName}: not in its registration`);
          if (qds.size === 0) this.topicQueueTable.delete(topic);
        }
      }
      const brokerChanged = this.isBrokerTopicConfigChanged(a.clusterName, a.brokerAddr, a.topicConfigWrapper.dataVersion);
      for (const tc of tcTable.values()) {
        if (registerFirst || brokerChanged || !this.topicQueueTable.get(tc.topicName)?.has(a.brokerName)) {
          let perm = tc.perm;
          // an acting (prime-slave) master serves reads only
          if (isPrimeSlave && bd.enableActingMaster) perm &= ~PermName.PERM_WRITE;
          this.createAndUpdateQueueData(a.brokerName, tc, perm);
        }
      }
    }

    const key = liveKey(a.clusterName, a.brokerAddr);
    const prevLive = this.brokerLiveTable.get(key);
    this.brokerLiveTable.set(key, {
      cluster: a.clusterName,
      brokerAddr: a.brokerAddr,
      lastUpdateTimestamp: this.now(),
      heartbeatTimeoutMillis: a.heartbeatTimeoutMillis && a.heartbeatTimeoutMillis > 0 ? a.heartbeatTimeoutMillis : this.settings.brokerChannelExpiredTime,
      dataVersion: a.topicConfigWrapper.dataVersion,
      conn: a.conn,
      haServerAddr: a.haServerAddr,
    });
    if (prevLive === undefined) {
      this.log.info(`broker registered: ${a.clusterName}/${a.brokerName}[${a.brokerId}] at ${a.brokerAddr}, HA ${a.haServerAddr || '-'}`);
    }

    if (a.filterServerList.length === 0) this.filterServerTable.delete(key);
    else this.filterServerTable.set(key, a.filterServerList);

    if (!isMaster) {
      const masterAddr = addrs.get(MixAll.MASTER_ID);
      if (masterAddr !== undefined) {
        const master = this.brokerLiveTable.get(liveKey(a.clusterName, masterAddr));
        if (master !== undefined) {
          result.haServerAddr = master.haServerAddr;
          result.masterAddr = masterAddr;
        }
      }
    }
    return result;
  }

  private createAndUpdateQueueData(brokerName: string, tc: TopicConfig, perm: number): void {
    const qd: QueueData = { brokerName, readQueueNums: tc.readQueueNums, writeQueueNums: tc.writeQueueNums, perm, topicSysFlag: tc.topicSysFlag };
    let m = this.topicQueueTable.get(tc.topicName);
    if (m === undefined) {
      this.topicQueueTable.set(tc.topicName, (m = new Map()));
      this.log.info(`new topic ${tc.topicName} from ${brokerName}`);
    }
    const old = m.get(brokerName);
    if (
      old === undefined ||
      old.readQueueNums !== qd.readQueueNums ||
      old.writeQueueNums !== qd.writeQueueNums ||
      old.perm !== qd.perm ||
      old.topicSysFlag !== qd.topicSysFlag
    ) {
      m.set(brokerName, qd);
    }
  }

  private topicsOfBroker(brokerName: string): string[] {
    const out: string[] = [];
    for (const [topic, qds] of this.topicQueueTable) if (qds.has(brokerName)) out.push(topic);
    return out;
  }

  isBrokerTopicConfigChanged(cluster: string, addr: string, dv: DataVersion): boolean {
    const prev = this.brokerLiveTable.get(liveKey(cluster, addr));
    return prev === undefined || !dataVersionEquals(prev.dataVersion, dv);
  }

  /** The DataVersion we last got from that broker. */
  queryBrokerTopicConfig(cluster: string, addr: string): DataVersion | undefined {
    return this.brokerLiveTable.get(liveKey(cluster, addr))?.dataVersion;
  }

  /** Refreshes liveness (QUERY_DATA_VERSION, BROKER_HEARTBEAT). */
  updateBrokerInfoUpdateTimestamp(cluster: string, addr: string): void {
    const live = this.brokerLiveTable.get(liveKey(cluster, addr));
    if (live !== undefined) live.lastUpdateTimestamp = this.now();
  }

  unregisterBroker(cluster: string, addr: string, brokerName: string, brokerId: number, why = 'unregistered'): void {
    const key = liveKey(cluster, addr);
    const live = this.brokerLiveTable.get(key);
    this.brokerLiveTable.delete(key);
    this.filterServerTable.delete(key);
    let removedName = false;
    const bd = this.brokerAddrTable.get(brokerName);
    if (bd !== undefined) {
      if (bd.brokerAddrs.get(brokerId) === addr) bd.brokerAddrs.delete(brokerId);
      if (bd.brokerAddrs.size === 0) {
        this.brokerAddrTable.delete(brokerName);
        removedName = true;
      }
    }
    if (removedName) {
      const names = this.clusterAddrTable.get(cluster);
      if (names !== undefined) {
        names.delete(brokerName);
        if (names.size === 0) this.clusterAddrTable.delete(cluster);
      }
      this.removeTopicsOfBroker(brokerName);
    }
    if (live !== undefined || bd !== undefined) {
      this.log.info(`broker ${why}: ${cluster}/${brokerName}[${brokerId}] at ${addr}${removedName ? `, group ${brokerName} removed` : ''}`);
    }
  }

  private removeTopicsOfBroker(brokerName: string): void {
    for (const [topic, qds] of this.topicQueueTable) {
      if (qds.delete(brokerName) && qds.size === 0) {
        this.topicQueueTable.delete(topic);
        this.log.info(`topic ${topic} removed: its last broker group ${brokerName} went away`);
      }
    }
  }

  /** Unregisters every broker whose registration arrived on `conn` (the connection closed). */
  onConnectionClosed(conn: RemotingConnection, reason: string): void {
    for (const live of [...this.brokerLiveTable.values()]) {
      if (live.conn === conn) this.unregisterByAddr(live.cluster, live.brokerAddr, `connection closed (${reason})`);
    }
  }

  private unregisterByAddr(cluster: string, addr: string, why: string): void {
    for (const bd of this.brokerAddrTable.values()) {
      if (bd.cluster !== cluster) continue;
      for (const [id, a] of bd.brokerAddrs) {
        if (a === addr) {
          this.unregisterBroker(cluster, addr, bd.brokerName, id, why);
          return;
        }
      }
    }
    // not in any group any more: just forget its liveness
    this.brokerLiveTable.delete(liveKey(cluster, addr));
    this.filterServerTable.delete(liveKey(cluster, addr));
  }

  /** Expires brokers silent for longer than their heartbeat timeout; returns how many. */
  scanNotActiveBroker(): number {
    const now = this.now();
    let n = 0;
    for (const live of [...this.brokerLiveTable.values()]) {
      if (live.lastUpdateTimestamp + live.heartbeatTimeoutMillis >= now) continue;
      n++;
      this.unregisterByAddr(live.cluster, live.brokerAddr, `expired after ${live.heartbeatTimeoutMillis} ms without heartbeat`);
      live.conn?.close('broker registration expired');
    }
    return n;
  }

  // -------------------------------------------------------------------------------------------
  // queries and admin

  pickupTopicRouteData(topic: string): TopicRouteData | null {
    const qds = this.topicQueueTable.get(topic);
    if (qds === undefined || qds.size === 0) return null;
    const route: TopicRouteData = { queueDatas: [], brokerDatas: [], filterServerTable: new Map() };
    for (const qd of qds.values()) route.queueDatas.push({ ...qd });
    for (const name of qds.keys()) {
      const bd = this.brokerAddrTable.get(name);
      if (bd === undefined) continue;
      const copy: BrokerData = {
        cluster: bd.cluster,
        brokerName: bd.brokerName,
        brokerAddrs: new Map(bd.brokerAddrs),
        enableActingMaster: bd.enableActingMaster,
      };
      if (bd.zoneName !== undefined) copy.zoneName = bd.zoneName;
      route.brokerDatas.push(copy);
      for (const addr of bd.brokerAddrs.values()) {
        const fs = this.filterServerTable.get(liveKey(bd.cluster, addr));
        if (fs !== undefined) route.filterServerTable.set(addr, fs);
      }
    }
    return route.brokerDatas.length > 0 ? route : null;
  }

  getClusterInfo(): ClusterInfo {
    const clusters = new Map<string, string[]>();
    for (const [c, names] of this.clusterAddrTable) clusters.set(c, [...names]);
    return { brokerAddrTable: new Map(this.brokerAddrTable), clusterAddrTable: clusters };
  }

  getAllTopicList(): TopicList {
    return { topicList: [...this.topicQueueTable.keys()] };
  }

  getTopicsByCluster(cluster: string): TopicList {
    const names = this.clusterAddrTable.get(cluster);
    const out: string[] = [];
    if (names !== undefined) {
      for (const [topic, qds] of this.topicQueueTable) {
        for (const n of qds.keys()) {
          if (names.has(n)) {
            out.push(topic);
            break;
          }
        }
      }
    }
    return { topicList: out };
  }

  /** Cluster names and broker names (the topics brokers create for them), plus one broker address. */
  getSystemTopicList(): TopicList {
    const list: string[] = [];
    for (const [c, names] of this.clusterAddrTable) list.push(c, ...names);
    const out: TopicList = { topicList: list };
    for (const bd of this.brokerAddrTable.values()) {
      const first = bd.brokerAddrs.values().next();
      if (!first.done) {
        out.brokerAddr = first.value;
        break;
      }
    }
    return out;
  }

  registerTopic(topic: string, queueDatas: QueueData[]): void {
    if (queueDatas.length === 0) return;
    for (const qd of queueDatas) {
      if (!this.brokerAddrTable.has(qd.brokerName)) continue;
      let m = this.topicQueueTable.get(topic);
      if (m === undefined) this.topicQueueTable.set(topic, (m = new Map()));
      m.set(qd.brokerName, { ...qd });
    }
  }

  deleteTopic(topic: string, clusterName?: string): void {
    if (clusterName === undefined || clusterName === '') {
      this.topicQueueTable.delete(topic);
      return;
    }
    const names = this.clusterAddrTable.get(clusterName);
    const qds = this.topicQueueTable.get(topic);
    if (names === undefined || qds === undefined) return;
    for (const n of names) qds.delete(n);
    if (qds.size === 0) this.topicQueueTable.delete(topic);
  }

  /** Clears PERM_WRITE on the group's queues (wipe) or sets RW (add); returns the topic count touched. */
  changeWritePerm(brokerName: string, wipe: boolean): number {
    let n = 0;
    for (const qds of this.topicQueueTable.values()) {
      const qd = qds.get(brokerName);
      if (qd === undefined) continue;
      qd.perm = wipe ? qd.perm & ~PermName.PERM_WRITE : PermName.PERM_READ | PermName.PERM_WRITE;
      n++;
    }
    return n;
  }
}
