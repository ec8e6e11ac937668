/**
 * HTTP/1.1 written by hand over a TCP socket, for requests an HTTP client library refuses to send
 * (a `Connection` header naming end-to-end headers, a forged `Host`, an absolute-form target) and
 * for sockets that connect and say nothing.
 */
import { connect, type Socket } from 'node:net';

export interface RawAnswer {
  status: number;
  /** Header lines as received (names lower-cased), in order; repeated names repeat. */
  headers: [string, string][];
  body: string;
}

/** Sends `head` (request line and headers, without the final blank line) and reads until close. */
export function rawRequest(base: string, head: string, body = ''): Promise<RawAnswer> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      try {
        resolve(parse(Buffer.concat(chunks).toString('latin1')));
      } catch (error) {
        reject(error);
      }
    });
    socket.write(`${head.replace(/\r?\n/g, '\r\n')}\r\n\r\n${body}`);
  });
}

/** The value of the first header line named `name`. */
export function rawHeader(answer: RawAnswer, name: string): string | undefined {
  return answer.headers.find(([candidate]) => candidate === name)?.[1];
}

/** Opens `count` sockets that send nothing; resolves once all are connected (or refused). */
export async function silentSockets(base: string, count: number): Promise<Socket[]> {
  const { hostname, port } = new URL(base);
  return Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<Socket>((resolve) => {
          const socket = connect(Number(port), hostname);
          socket.on('error', () => {});
          socket.resume();
          socket.once('connect', () => resolve(socket));
          socket.once('close', () => resolve(socket));
        }),
    ),
  );
}

function parse(text: string): RawAnswer {
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) throw new Error(`no complete HTTP answer: ${JSON.stringify(text.slice(0, 200))}`);
  const [statusLine, ...lines] = text.slice(0, end).split('\r\n');
  const status = Number(statusLine?.split(' ')[1]);
  const headers = lines.map((line): [string, string] => {
    const at = line.indexOf(':');
    return [line.slice(0, at).trim().toLowerCase(), line.slice(at + 1).trim()];
  });
  let body = text.slice(end + 4);
  if (headers.some(([name, value]) => name === 'transfer-encoding' && value === 'chunked'))
    body = unchunk(body);
  return { status, headers, body };
}

function unchunk(text: string): string {
  let body = '';
  let at = 0;
  for (;;) {
    const lineEnd = text.indexOf('\r\n', at);
    const size = Number.parseInt(text.slice(at, lineEnd), 16);
    if (!(size > 0)) return body;
    body += text.slice(lineEnd + 2, lineEnd + 2 + size);
    at = lineEnd + 2 + size + 2;
  }
}
