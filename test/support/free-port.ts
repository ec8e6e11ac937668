/**
 * Free loopback TCP ports for throwaway servers.
 *
 * The kernel picks a port when we listen on port 0; we read it and close the listener. Ports wanted
 * together (a Redis node and its cluster bus) are taken while every listener is still open, so the
 * kernel cannot hand the same port out twice. A port is only free until someone else binds it, so
 * callers that spawn a server on it must tolerate losing that race (startRedisServer retries).
 */
import { createServer, type Server } from 'node:net';

/** Every throwaway server binds here: the loopback interface only. */
export const LOOPBACK = '127.0.0.1';

/** One free port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  return port;
}

/** `count` distinct free ports on 127.0.0.1. */
export async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < count; i++) servers.push(await listenOnAnyPort());
    return servers.map(portOf);
  } finally {
    await Promise.all(servers.map(closeServer));
  }
}

function listenOnAnyPort(): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, LOOPBACK, () => resolve(server));
  });
}

function portOf(server: Server): number {
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('expected a TCP address');
  return address.port;
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}
