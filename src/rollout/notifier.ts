/**
 * Sends a rollout's notifications to a Slack-compatible incoming webhook (ALERT_WEBHOOK_URL) and to
 * the log, without ever holding up the controller: `notify` queues and returns at once; one sender
 * drains the queue in order, each message with a timeout and retries with exponential backoff.
 *
 * The audit record of a decision is written to the store before its notification is queued, so a
 * webhook that is down or slow delays or loses a chat message (counted, and logged with the text)
 * but never a record. The queue is bounded: past MAX_QUEUED the oldest waiting message is dropped,
 * counted and logged, so a webhook down for days cannot grow the process's memory.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import {
  type Locale,
  type NotificationFacts,
  type NotificationKind,
  renderNotification,
} from './notification-templates.js';

const MAX_QUEUED = 1_000;
const DEFAULT_TIMEOUT_MS = 5_000;
const DEFAULT_ATTEMPTS = 4;
const FIRST_RETRY_MS = 500;

export interface NotifierLog {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

export interface NotifierOptions {
  /** The webhook; without one, notifications go to the log only. */
  webhookUrl?: string;
  locale?: Locale;
  log: NotifierLog;
  timeoutMs?: number;
  attempts?: number;
}

export interface NotifierStats {
  sent: number;
  failed: number;
  dropped: number;
  queued: number;
}

export class Notifier {
  private readonly queue: { subject: string; text: string }[] = [];
  private readonly stats = { sent: 0, failed: 0, dropped: 0 };
  private draining: Promise<void> | undefined;

  constructor(private readonly options: NotifierOptions) {}

  /** Logs the notification (in `locale`, else the notifier's) and queues it; never waits or throws. */
  notify(kind: NotificationKind, facts: NotificationFacts, locale?: Locale): void {
    const message = renderNotification(kind, facts, locale ?? this.options.locale);
    this.options.log.info(
      { notification: kind, rollout: facts.rollout, text: message.text },
      message.subject,
    );
    if (this.options.webhookUrl === undefined) return;
    if (this.queue.length >= MAX_QUEUED) {
      const dropped = this.queue.shift();
      this.stats.dropped++;
      this.options.log.warn({ subject: dropped?.subject }, 'notification dropped: the webhook queue is full');
    }
    this.queue.push(message);
    this.draining ??= this.drain().finally(() => {
      this.draining = undefined;
    });
  }

  counts(): NotifierStats {
    return { ...this.stats, queued: this.queue.length };
  }

  /** Resolves once everything queued so far was sent or given up (for shutdown and tests). */
  async idle(): Promise<void> {
    while (this.draining !== undefined) await this.draining;
  }

  private async drain(): Promise<void> {
    for (let message = this.queue.shift(); message !== undefined; message = this.queue.shift()) {
      if (await this.send(message)) this.stats.sent++;
      else this.stats.failed++;
    }
  }

  /** Posts `message`, retrying; false when every attempt failed (logged with the text). */
  private async send(message: { subject: string; text: string }): Promise<boolean> {
    const attempts = this.options.attempts ?? DEFAULT_ATTEMPTS;
    const timeoutMs = this.options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    let reason = '';
    for (let attempt = 1; attempt <= attempts; attempt++) {
      try {
        const answer = await request(this.options.webhookUrl as string, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ text: `*${message.subject}*\n${message.text}` }),
          headersTimeout: timeoutMs,
          bodyTimeout: timeoutMs,
          signal: AbortSignal.timeout(timeoutMs),
        });
        await answer.body.dump();
        if (answer.statusCode < 300) return true;
        reason = `answered ${answer.statusCode}`;
      } catch (error) {
        reason = (error as { code?: string }).code ?? (error as Error).message;
      }
      if (attempt < attempts) await sleep(FIRST_RETRY_MS * 2 ** (attempt - 1));
    }
    this.options.log.warn(
      { subject: message.subject, text: message.text, reason, attempts },
      'notification not delivered to the webhook',
    );
    return false;
  }
}
