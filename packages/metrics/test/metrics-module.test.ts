import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Module, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { createServer } from 'node:net';
import { counter, createMetricsRegistry, gauge, METRIC, MetricsModule, type Registry } from '../src/index.js';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

describe('MetricsModule over HTTP', () => {
  let app: INestApplication;
  let base: string;
  let registry: Registry;
  let isReady = false;
  let healthFails = false;

  beforeAll(async () => {
    registry = createMetricsRegistry({ cluster: 'DefaultCluster', node_type: 'broker' });
    counter(registry, METRIC.messagesInTotal).inc({ topic: 'TopicTest', message_type: 'normal' }, 3);

    @Module({
      imports: [
        MetricsModule.forRoot({
          registry,
          ready: () => isReady,
          health: () => {
            if (healthFails) throw new Error('store is closed');
            return { role: 'ASYNC_MASTER' };
          },
        }),
      ],
    })
    class AppModule {}

    app = await NestFactory.create(AppModule, { logger: false });
    const port = await freePort();
    await app.listen(port, '127.0.0.1');
    base = `http://127.0.0.1:${port}`;
  });

  afterAll(async () => {
    await app?.close();
  });

  it('GET /metrics serves the Prometheus text format with default labels and process metrics', async () => {
    const res = await fetch(`${base}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const body = await res.text();
    expect(body).toContain('# TYPE rocketmq_messages_in_total counter');
    expect(body).toMatch(/rocketmq_messages_in_total\{topic="TopicTest",message_type="normal",cluster="DefaultCluster",node_type="broker"\} 3/);
    expect(body).toContain('process_cpu_user_seconds_total');
    expect(body).toContain('nodejs_eventloop_lag_seconds');
  });

  it('GET /health answers UP with the extra fields, DOWN with 503 when the check throws', async () => {
    let res = await fetch(`${base}/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'UP', role: 'ASYNC_MASTER' });
    healthFails = true;
    res = await fetch(`${base}/health`);
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ status: 'DOWN', error: 'store is closed' });
    healthFails = false;
  });

  it('GET /ready follows ready()', async () => {
    let res = await fetch(`${base}/ready`);
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ status: 'NOT_READY' });
    isReady = true;
    res = await fetch(`${base}/ready`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'READY' });
  });

  it('reflects values set after start-up', async () => {
    gauge(registry, METRIC.storageFlushBehindBytes).set(4096);
    const body = await (await fetch(`${base}/metrics`)).text();
    expect(body).toMatch(/^rocketmq_storage_flush_behind_bytes\{cluster="DefaultCluster",node_type="broker"\} 4096$/m);
  });
});
