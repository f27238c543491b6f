import {
  RemotingCommand,
  RequestCode,
  ResponseCode,
  RegisterBrokerRequestHeader,
  RegisterBrokerResponseHeader,
  UnregisterBrokerRequestHeader,
  encodeRegisterBrokerBody,
  bodyCrc32,
  MQError,
} from '@rocketmq-ts/protocol';
import { RemotingClient, createLogger, errorText, type RemotingClientOptions } from '@rocketmq-ts/remoting';
import type { TopicConfigManager } from '../topic/topic-config-manager.js';

export interface BrokerIdentity {
  clusterName: string;
  brokerName: string;
  brokerId: number;
  brokerAddr: string;
  haServerAddr: string;
}

/**
 * The broker's side of the name servers: REGISTER_BROKER with every name server at start, every
 * `registerNameServerPeriod` and when topics change (coalesced), UNREGISTER_BROKER on shutdown.
 * A slave learns its master's address from the replies.
 */
export class BrokerOuterAPI {
  private readonly log = createLogger('broker.register');
  private readonly client: RemotingClient;
  private timer: NodeJS.Timeout | null = null;
  private pending: NodeJS.Timeout | null = null;
  private stopped = false;
  masterAddr: string | undefined;
  masterHaAddr: string | undefined;
  lastRegisterOk = false;

  constructor(
    private readonly id: BrokerIdentity,
    private namesrvAddrs: string[],
    private readonly topics: TopicConfigManager,
    private readonly periodMs: number,
    private readonly timeoutMs: number,
    /** Told after every round of registrations whether at least one name server took it. */
    private readonly onRegistered: (ok: boolean) => void = () => undefined,
    /** A slave: told when the name servers name another master (remoting and HA addresses). */
    private readonly onMaster: (masterAddr: string, haAddr: string) => void = () => undefined,
    /** E.g. signing with the broker's own account (ACL). */
    clientOptions: RemotingClientOptions = {},
  ) {
    this.client = new RemotingClient(clientOptions);
  }

  setNamesrvAddr(addr: string): void {
    this.namesrvAddrs = splitAddrs(addr);
  }

  get namesrvList(): readonly string[] {
    return this.namesrvAddrs;
  }

  start(): void {
    const period = Math.min(60_000, Math.max(10_000, this.periodMs));
    this.timer = setInterval(() => void this.registerAll(), period);
    this.timer.unref();
  }

  /** Topics changed: register soon, once for a burst of changes. */
  registerSoon(): void {
    if (this.pending || this.stopped) return;
    this.pending = setTimeout(() => {
      this.pending = null;
      void this.registerAll();
    }, 50);
    this.pending.unref();
  }

  async registerAll(): Promise<number> {
    if (this.stopped || this.namesrvAddrs.length === 0) return 0;
    const body = encodeRegisterBrokerBody({ topicConfigSerializeWrapper: this.topics.wrapper(), filterServerList: [] }, false);
    const crc = bodyCrc32(body);
    let ok = 0;
    await Promise.all(
      this.namesrvAddrs.map(async (addr) => {
        const header = RegisterBrokerRequestHeader.encode({
          brokerName: this.id.brokerName,
          brokerAddr: this.id.brokerAddr,
          clusterName: this.id.clusterName,
          haServerAddr: this.id.haServerAddr,
          brokerId: this.id.brokerId,
          heartbeatTimeoutMillis: 120_000,
          enableActingMaster: false,
          compressed: false,
          bodyCrc32: crc,
        });
        try {
          const res = await this.client.invoke(addr, RemotingCommand.request(RequestCode.REGISTER_BROKER, header, body), this.timeoutMs);
          if (res.code !== ResponseCode.SUCCESS) throw new MQError(res.code, res.remark);
          const h = RegisterBrokerResponseHeader.decode(res.extFields);
          if (h.masterAddr && h.haServerAddr && (h.masterAddr !== this.masterAddr || h.haServerAddr !== this.masterHaAddr)) {
            this.masterAddr = h.masterAddr;
            this.masterHaAddr = h.haServerAddr;
            this.onMaster(h.masterAddr, h.haServerAddr);
          }
          ok++;
        } catch (e) {
          this.log.warn(`register with name server ${addr} failed: ${errorText(e)}`);
        }
      }),
    );
    this.lastRegisterOk = ok > 0;
    this.onRegistered(ok > 0);
    return ok;
  }

  async unregisterAll(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.pending) clearTimeout(this.pending);
    await Promise.all(
      this.namesrvAddrs.map(async (addr) => {
        const header = UnregisterBrokerRequestHeader.encode({
          brokerName: this.id.brokerName,
          brokerAddr: this.id.brokerAddr,
          clusterName: this.id.clusterName,
          brokerId: this.id.brokerId,
        });
        try {
          await this.client.invoke(addr, RemotingCommand.request(RequestCode.UNREGISTER_BROKER, header), 3000);
        } catch (e) {
          this.log.warn(`unregister from name server ${addr} failed: ${errorText(e)}`);
        }
      }),
    );
    this.client.close();
  }
}

export function splitAddrs(addr: string): string[] {
  return addr
    .split(/[;,]/)
    .map((a) => a.trim())
    .filter((a) => a !== '');
}
