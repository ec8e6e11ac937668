/**
 * A local stand-in for a Slack incoming webhook, for the rollout demo: it accepts the notifications
 * Keel posts to ALERT_WEBHOOK_URL (`{ "text": … }`), keeps them and hands each to a listener.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface WebhookReceiver {
  url: string;
  received: string[];
  close(): Promise<void>;
}

export async function startWebhookReceiver(onMessage: (text: string) => void): Promise<WebhookReceiver> {
  const received: string[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      let text: string;
      try {
        text = String((JSON.parse(Buffer.concat(chunks).toString('utf8')) as { text?: unknown }).text);
      } catch {
        response.writeHead(400).end();
        return;
      }
      received.push(text);
      onMessage(text);
      response.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks/keel-demo`,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
