import { RemotingClient } from '@rocketmq-ts/remoting';
import { RemotingCommand, RequestCode, ResponseCode, SerializeType, decodeMessageRecords, nextOpaque } from '@rocketmq-ts/protocol';
import type { Row } from '../report.js';
import { SCENARIOS, quick } from '../scenarios.js';
import { LatencyRecorder, RssSampler, processCpuMicros, processRss } from '../stats.js';
import { runWindow } from '../window.js';
import { runtimeInfo, startBroker, stopBroker } from './broker.js';

const PENDING_TOPIC = 'BenchTimerPending';
const PROBE_TOPIC = 'BenchTimerProbe';
const BODY = Buffer.alloc(128, 0x74);
/** Probes: one every PROBE_EVERY_MS, each due 1-3 s after it is sent. */
const PROBES = quick ? 300 : 2_000;
const PROBE_EVERY_MS = 10;

function sendCommand(topic: string, queueId: number, props: string): RemotingCommand {
  const cmd = RemotingCommand.request(
    RequestCode.SEND_MESSAGE_V2,
    { a: 'bench-timer', b: topic, c: 'TBW102', d: '4', e: String(queueId), f: '0', g: String(Date.now()), h: '0', i: props, j: '0', k: 'false', m: 'false' },
    BODY,
  );
  cmd.serializeType = SerializeType.ROCKETMQ;
  return cmd;
}

async function send(client: RemotingClient, addr: string, cmd: RemotingCommand): Promise<void> {
  cmd.opaque = nextOpaque();
  const r = await client.invoke(addr, cmd, 10_000);
  if (r.code !== ResponseCode.SUCCESS) throw new Error(`send failed: ${r.code} ${r.remark ?? ''}`);
}

async function waitUntil(f: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await f())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * 1M timer messages due 1-2 h ahead (spread over 3600 one-second slots) are put first and left
 * pending; then probes due 1-3 s after their send are delivered through the same wheel while a
 * consumer long-polls their topic. Lateness = arrival at the consumer − TIMER_DELIVER_MS (at most
 * one precision by design: a slot is delivered when it ends). Peak broker RSS covers the whole run.
 */
export async function runTimerScenario(): Promise<Row[]> {
  const spec = SCENARIOS.timer;
  const name = 'rocketmq-ts';
  const b = await startBroker('ASYNC_FLUSH', {}, 'timer');
  const client = new RemotingClient();
  const pid = b.proc.pid;
  const rss = new RssSampler(pid);
  rss.start(200);
  try {
    // 1. Fill: single sends (batches are not timers), 256 in flight.
    const base = Date.now() + 3_600_000;
    const cpu0 = processCpuMicros(pid);
    const fill = await runWindow({
      inflight: spec.inflight,
      requests: spec.requests,
      perRequest: 1,
      maxMs: 600_000,
      send: (i) => send(client, b.addr, sendCommand(PENDING_TOPIC, i % 4, `TIMER_DELIVER_MS\u0001${base + (i % 3600) * 1000 + 500}\u0002`)),
    });
    const fillCpu = (processCpuMicros(pid) - cpu0) / Math.max(1, fill.messages);
    const tEnq = performance.now();
    await waitUntil(async () => (await runtimeInfo(client, b.addr))['timerOffsetBehind'] === '0', 300_000, 'the enqueue to catch up');
    const enqueueWaitMs = performance.now() - tEnq;
    const info = await runtimeInfo(client, b.addr);
    const pending = Number(info['timerCongestNum']);
    const rssAfterFill = processRss(pid) / 1e6;

    // 2. Probes, while a consumer long-polls their topic.
    const lateness = new LatencyRecorder(PROBES);
    let received = 0;
    let consuming = true;
    const consumer = (async () => {
      let offset = 0;
      while (consuming && received < PROBES) {
        const cmd = RemotingCommand.request(RequestCode.PULL_MESSAGE, {
          consumerGroup: 'bench-timer-consumer',
          topic: PROBE_TOPIC,
          queueId: '0',
          queueOffset: String(offset),
          maxMsgNums: '32',
          sysFlag: String(0x2 | 0x4),
          commitOffset: '0',
          suspendTimeoutMillis: '2000',
          subscription: '*',
          subVersion: '0',
          expressionType: 'TAG',
        });
        const r = await client.invoke(b.addr, cmd, 10_000).catch(() => undefined);
        if (r === undefined) continue;
        const now = Date.now();
        if (r.code === ResponseCode.SUCCESS && r.body) {
          for (const m of decodeMessageRecords(r.body)) {
            lateness.record((now - Number(m.properties.get('TIMER_DELIVER_MS'))) * 1000);
            received++;
          }
          offset = Number(r.ext('nextBeginOffset'));
        } else if (r.code === ResponseCode.PULL_OFFSET_MOVED || r.code === ResponseCode.PULL_NOT_FOUND) {
          const next = Number(r.ext('nextBeginOffset'));
          if (Number.isFinite(next) && next > offset) offset = next;
        } else {
          await new Promise((res) => setTimeout(res, 50));
        }
      }
    })();
    let lastDue = 0;
    for (let i = 0; i < PROBES; i++) {
      const due = Date.now() + 1000 + Math.floor(Math.random() * 2000);
      lastDue = Math.max(lastDue, due);
      await send(client, b.addr, sendCommand(PROBE_TOPIC, 0, `TIMER_DELIVER_MS\u0001${due}\u0002`));
      await new Promise((res) => setTimeout(res, PROBE_EVERY_MS));
    }
    await waitUntil(async () => received >= PROBES, Math.max(0, lastDue - Date.now()) + 10_000, 'the probes').catch(() => undefined);
    consuming = false;
    await consumer;
    const peak = rss.stop();
    const [p50, p99, max] = lateness.percentiles([50, 99, 100]) as [number, number, number];
    const row: Row = {
      scenario: spec.scenario,
      system: name,
      durability: 'async (ASYNC_FLUSH)',
      msgsPerSec: fill.messages / (fill.elapsedMs / 1000),
      mbPerSec: (fill.messages * BODY.length) / (fill.elapsedMs / 1000) / 1e6,
      p50Us: p50,
      p99Us: p99,
      p999Us: max,
      cpuUsPerMsg: fillCpu,
      peakRssMB: peak / 1e6,
      note:
        `msgs/s = timer sends (128 B, 256 in flight); ${pending.toLocaleString('en-US')} pending, enqueue done ${(enqueueWaitMs / 1000).toFixed(1)} s after the last send; ` +
        `p50/p99/p999 columns = lateness of ${received}/${PROBES} probes due 1-3 s ahead (p999 column = max; target p99 <= precision + 100 ms = 1100 ms); ` +
        `RSS after the fill ${rssAfterFill.toFixed(0)} MB` +
        (fill.errors > 0 ? `; ${fill.errors} send errors: ${fill.firstError ?? ''}` : ''),
    };
    return [row];
  } catch (e) {
    rss.stop();
    return [
      { scenario: spec.scenario, system: name, durability: 'async (ASYNC_FLUSH)', msgsPerSec: NaN, mbPerSec: NaN, note: `failed: ${(e as Error).message}` },
    ];
  } finally {
    client.close();
    await stopBroker(b);
  }
}
