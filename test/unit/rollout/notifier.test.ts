/**
 * Notifications: the four templates in both languages carry the figures of the moment, and the
 * notifier never holds its caller up: a webhook that fails is retried then given up (logged with
 * the text), a slow one times out, and delivery to a working one is in order. The webhook is a
 * real HTTP server on loopback.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type NotificationFacts, renderNotification } from '../../../src/rollout/notification-templates.js';
import { Notifier } from '../../../src/rollout/notifier.js';

const FACTS: NotificationFacts = {
  rollout: 'migration-1',
  plan: 'migration',
  at: Date.UTC(2026, 11, 4, 10),
  startedAt: Date.UTC(2026, 11, 1, 10),
  stage: { index: 1, name: 'canary-10', total: 5 },
  switches: { 'traffic:listing': 10 },
  metrics: { 'candidate.error_rate': 0.061234 },
  actor: 'guard:error-rate',
  reason: 'candidate.error_rate > 0.05 for 5m',
  next: 'half',
};

describe('templates', () => {
  it('fill each kind with the weights, the guard values and who decided', () => {
    for (const kind of [
      'start',
      'stage',
      'pause',
      'acknowledge',
      'resume',
      'stop',
      'emergency-stop',
      'rollback',
      'complete',
    ] as const) {
      const { subject, text } = renderNotification(kind, FACTS);
      expect(subject).toContain('migration');
      expect(text).toContain('traffic:listing 10 %');
      expect(text).toContain('candidate.error_rate 0.06123');
      expect(text).toContain('guard:error-rate');
    }
    expect(renderNotification('rollback', FACTS).subject).toBe('[URGENT] migration: rolled back');
    expect(renderNotification('complete', FACTS).text).toContain('in 3d');
    // An operator's pause has no deadline: it says so.
    expect(renderNotification('pause', FACTS).text).toContain('it rolls back at its deadline');
    const byAna = renderNotification('pause', { ...FACTS, actor: 'operator:ana' }).text;
    expect(byAna).toContain('until an operator resumes (keel rollout resume)');
    expect(byAna).not.toContain('deadline');
    expect(renderNotification('stop', FACTS, 'ja').subject).toBe('【停止】migration - canary-10 で停止');
  });

  it('speak Japanese with locale ja', () => {
    expect(renderNotification('start', FACTS, 'ja').subject).toBe(
      '【重要】migration - 新バージョンデプロイ開始',
    );
    expect(renderNotification('rollback', FACTS, 'ja').subject).toBe('【緊急】migration - ロールバック実施');
    expect(renderNotification('stage', FACTS, 'ja').text).toContain(
      '現在のトラフィック配分: traffic:listing 10 %',
    );
  });
});

describe('Notifier', () => {
  let server: Server | undefined;
  afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

  async function webhook(answer: (count: number) => { status: number; delayMs?: number }) {
    const received: string[] = [];
    const listening = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk) => {
        body += chunk;
      });
      request.on('end', () => {
        received.push(body);
        const { status, delayMs = 0 } = answer(received.length);
        setTimeout(() => response.writeHead(status).end(), delayMs);
      });
    });
    server = listening;
    await new Promise<void>((resolve) => listening.listen(0, '127.0.0.1', resolve));
    return { url: `http://127.0.0.1:${(listening.address() as AddressInfo).port}/hook`, received };
  }

  function capturingLog() {
    const lines: { level: string; message: string; fields: object }[] = [];
    return {
      lines,
      info: (fields: object, message: string) => lines.push({ level: 'info', message, fields }),
      warn: (fields: object, message: string) => lines.push({ level: 'warn', message, fields }),
    };
  }

  it('posts Slack-compatible JSON in order, retrying a failure, without blocking notify()', async () => {
    const hook = await webhook((count) => ({ status: count === 1 ? 500 : 200 }));
    const log = capturingLog();
    const notifier = new Notifier({ webhookUrl: hook.url, log, attempts: 3 });
    const started = performance.now();
    notifier.notify('start', FACTS);
    notifier.notify('rollback', FACTS);
    expect(performance.now() - started).toBeLessThan(20);
    await notifier.idle();
    expect(notifier.counts()).toEqual({ sent: 2, failed: 0, dropped: 0, queued: 0 });
    const texts = hook.received.map((body) => (JSON.parse(body) as { text: string }).text);
    expect(texts).toHaveLength(3);
    expect(texts[1]).toMatch(/^\*\[Rollout\] migration: started\*/);
    expect(texts[2]).toMatch(/^\*\[URGENT\] migration: rolled back\*/);
    expect(log.lines.filter((line) => line.level === 'info')).toHaveLength(2);
  });

  it('gives up on a webhook that stays down or slow, logging the text it could not deliver', async () => {
    const hook = await webhook(() => ({ status: 200, delayMs: 1_000 }));
    const log = capturingLog();
    const notifier = new Notifier({ webhookUrl: hook.url, log, attempts: 2, timeoutMs: 100 });
    notifier.notify('rollback', FACTS);
    await notifier.idle();
    expect(notifier.counts().failed).toBe(1);
    const warning = log.lines.find((line) => line.message === 'notification not delivered to the webhook');
    expect(JSON.stringify(warning?.fields)).toContain('Rolled back at stage 2 of 5');
  });
});
