/**
 * A loopback TCP proxy that breaks the connection between a client and Redis on demand.
 *
 * The client connects to the proxy; each accepted socket gets its own upstream socket to the
 * target, piped both ways. Three faults, each a real network behaviour seen by the client's socket:
 *
 * - dropConnections(): both sockets of every open pair are destroyed, as when a server restarts or
 *   a load balancer drops idle connections. The client sees a close and reconnects.
 * - blackhole(true): nothing more is forwarded in either direction, but every socket stays open:
 *   a hung server or a silent network partition. Only client-side timeouts notice. The pairs are
 *   unpiped (so their bytes stay unread in the kernel buffers, exactly as with a hung peer) and new
 *   connections are accepted but never connected upstream. blackhole(false) destroys every socket
 *   that lived through the blackhole, since bytes may have been lost mid-reply, so clients
 *   reconnect onto a clean stream.
 * - refuse(true): new connections are destroyed as soon as they are accepted; open ones carry on.
 *
 * Everything listens on 127.0.0.1 only.
 */
import { connect, createServer, type Socket } from 'node:net';
import { LOOPBACK } from './free-port.js';

export interface TcpProxyHandle {
  readonly port: number;
  /** redis://127.0.0.1:port */
  readonly url: string;
  /** Destroys every open client socket and its upstream socket. */
  dropConnections(): void;
  /** While on, forwards nothing and keeps sockets open; turning it off destroys those sockets. */
  blackhole(on: boolean): void;
  /** While on, destroys every new connection at once. */
  refuse(on: boolean): void;
  /** Stops listening and destroys every socket; safe to call twice. */
  close(): Promise<void>;
}

/** Starts a proxy on a free loopback port forwarding to `target`. */
export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxyHandle> {
  const proxy = new TcpProxy(target);
  await proxy.listen();
  return proxy;
}

/** An accepted client socket and its upstream socket (none when accepted into a blackhole). */
interface Pair {
  readonly client: Socket;
  upstream: Socket | undefined;
}

class TcpProxy implements TcpProxyHandle {
  port = 0;
  private readonly server = createServer((client) => this.accept(client));
  private readonly pairs = new Set<Pair>();
  private readonly blackholed = new Set<Pair>();
  private blackholing = false;
  private refusing = false;
  private closed: Promise<void> | undefined;

  constructor(private readonly target: { host: string; port: number }) {}

  get url(): string {
    return `redis://${LOOPBACK}:${this.port}`;
  }

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, LOOPBACK, () => {
        const address = this.server.address();
        if (address !== null && typeof address !== 'string') this.port = address.port;
        resolve();
      });
    });
  }

  dropConnections(): void {
    for (const pair of this.pairs) this.destroy(pair);
  }

  blackhole(on: boolean): void {
    if (on === this.blackholing) return;
    this.blackholing = on;
    if (on) {
      for (const pair of this.pairs) {
        pair.client.unpipe();
        pair.upstream?.unpipe();
        this.blackholed.add(pair);
      }
    } else {
      for (const pair of this.blackholed) this.destroy(pair);
    }
  }

  refuse(on: boolean): void {
    this.refusing = on;
  }

  close(): Promise<void> {
    this.closed ??= new Promise((resolve) => {
      this.server.close(() => resolve());
      this.dropConnections();
    });
    return this.closed;
  }

  private accept(client: Socket): void {
    client.on('error', ignore);
    if (this.refusing) {
      client.destroy();
      return;
    }
    const pair: Pair = { client, upstream: undefined };
    this.pairs.add(pair);
    client.once('close', () => this.destroy(pair));
    if (this.blackholing) {
      this.blackholed.add(pair);
      return;
    }
    const upstream = connect(this.target.port, this.target.host);
    upstream.on('error', ignore);
    upstream.once('close', () => this.destroy(pair));
    pair.upstream = upstream;
    client.pipe(upstream);
    upstream.pipe(client);
  }

  private destroy(pair: Pair): void {
    if (!this.pairs.delete(pair)) return;
    this.blackholed.delete(pair);
    pair.client.destroy();
    pair.upstream?.destroy();
  }
}

/** Socket errors (resets, refused upstream) end the pair through its 'close' event. */
function ignore(): void {}
