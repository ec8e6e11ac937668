/**
 * ClientConnections: the public listener's connections, held below a limit so that clients can
 * never take the file descriptors the gateway needs for the origin, Redis and its own files.
 *
 * Node's own limit (`server.maxConnections`) refuses the newcomer, so a crowd of idle sockets
 * would lock every new client out. Here the newcomer is accepted and, at the limit, a connection
 * that is doing nothing is closed instead, the way nginx reuses its idle keep-alive connections:
 * first the one that has been open longest without sending a request (a client that connected
 * and said nothing), else the keep-alive connection idle the longest; only when every connection
 * is busy with a request is the newcomer closed. Each closing is counted.
 *
 * Node's headers timeout only starts when the first byte of a request arrives, so a socket that
 * connects and stays silent would stay forever: it is closed after KEEL_HEADERS_TIMEOUT.
 *
 * The default limit (`auto`) is what the process's open-file limit leaves after the origin
 * connections and a reserve for everything else (Redis, logs, the admin listener).
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** File descriptors kept back for what is not a client or origin connection. */
const RESERVED_DESCRIPTORS = 64;
const MIN_CONNECTIONS = 16;
/** The limit when the open-file limit cannot be read (not Linux). */
const FALLBACK_CONNECTIONS = 10_000;

export interface ConnectionLimits {
  maxConnections: number;
  /** How long a new connection may stay silent. */
  headersTimeoutMs: number;
}

export class ClientConnections {
  private open = 0;
  /** Connections that have not sent a request yet, oldest first. */
  private readonly silent = new Set<Socket>();
  /** Keep-alive connections between requests, longest idle first. */
  private readonly idle = new Set<Socket>();
  /** Connections closed to make room. */
  shed = 0;

  constructor(
    server: Server,
    private readonly limits: ConnectionLimits,
  ) {
    server.on('connection', (socket: Socket) => this.accept(socket));
    server.on('request', (request: IncomingMessage, response: ServerResponse) =>
      this.busy(request.socket, response),
    );
  }

  get count(): number {
    return this.open;
  }

  private accept(socket: Socket): void {
    this.open++;
    this.silent.add(socket);
    socket.setTimeout(this.limits.headersTimeoutMs, () => {
      if (this.silent.has(socket)) socket.destroy();
    });
    socket.once('close', () => {
      this.open--;
      this.silent.delete(socket);
      this.idle.delete(socket);
    });
    if (this.open > this.limits.maxConnections) this.makeRoom(socket);
  }

  /** A request on a connection: neither silent nor idle until its answer is sent. */
  private busy(socket: Socket, response: ServerResponse): void {
    // The first request: Node's own timeouts take over from the silent one.
    if (this.silent.delete(socket)) socket.setTimeout(0);
    this.idle.delete(socket);
    response.once('finish', () => {
      if (!socket.destroyed) this.idle.add(socket);
    });
  }

  /** Closes the longest-silent connection, else the longest-idle one, else the newcomer. */
  private makeRoom(newcomer: Socket): void {
    const [oldestSilent] = this.silent;
    const victim = oldestSilent !== newcomer ? oldestSilent : this.idle.values().next().value;
    this.shed++;
    (victim ?? newcomer).destroy();
  }
}

/** The `auto` connection limit: the open-file limit less the origin connections and a reserve. */
export function automaticConnectionLimit(originConnections: number): number {
  let openFiles: number;
  try {
    const line = /Max open files\s+(\d+|unlimited)/.exec(readFileSync('/proc/self/limits', 'utf8'));
    openFiles = line === null || line[1] === 'unlimited' ? Number.NaN : Number(line[1]);
  } catch {
    openFiles = Number.NaN;
  }
  if (Number.isNaN(openFiles)) return FALLBACK_CONNECTIONS;
  return Math.max(MIN_CONNECTIONS, openFiles - originConnections - RESERVED_DESCRIPTORS);
}
