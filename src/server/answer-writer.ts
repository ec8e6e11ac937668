/**
 * Writing the gateway's answers on the raw Node response: the origin's header lines as they came
 * (repeated names stay separate lines), the gateway's own `Age` and `X-Cache`, and lengths the
 * gateway computes itself, with no framework in between to add, merge or re-type headers.
 *
 * A whole answer (stored, or read whole from the origin) may be narrowed for the request: a 304
 * when the client's copy is current (RFC 9110 §13.1.1–2, only for a 200), one byte range of a 200
 * (byte-range.ts), and no body for HEAD, which still gets the Content-Length a GET would. A
 * streamed answer is piped with backpressure, its Content-Length the origin's when it declared one.
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { CacheOutcome } from '../observability/index.js';
import { rangeOf } from './byte-range.js';
import { type HeaderLine, notModifiedHeaders } from './response-headers.js';

/**
 * Told what the client is answered, for a request copied to a candidate origin
 * (shadow-traffic.ts): the status and header lines, the body as written, and its end.
 */
export interface AnswerRecorder {
  head(status: number, lines: readonly HeaderLine[]): void;
  body(chunk: Buffer): void;
  end(): void;
}

/** An answer held whole, and what the client's conditionals and ranges are compared against. */
export interface WholeAnswer {
  status: number;
  lines: readonly HeaderLine[];
  body: Buffer;
  etag?: string;
  lastModified?: string;
  /** Seconds for the `Age` header; undefined for none. */
  age?: number;
}

export function writeWhole(
  request: IncomingMessage,
  response: ServerResponse,
  answer: WholeAnswer,
  outcome: CacheOutcome,
  recorder?: AnswerRecorder,
): void {
  const head = request.method === 'HEAD';
  if (recorder !== undefined) {
    recorder.head(answer.status, answer.lines);
    if (!head) recorder.body(answer.body);
    recorder.end();
  }
  const own = ownHeaders(outcome, answer.age);
  if (answer.status === 200 && clientCopyIsCurrent(request.headers, answer)) {
    response.writeHead(304, flatten(notModifiedHeaders(answer.lines), own));
    response.end();
    return;
  }
  const range =
    answer.status === 200 && request.headers.range !== undefined
      ? rangeOf(request.headers, answer.body.byteLength, answer)
      : undefined;
  if (range?.kind === 'unsatisfiable') {
    own.push('content-range', `bytes */${answer.body.byteLength}`, 'content-length', '0');
    response.writeHead(416, flatten(withoutContent(answer.lines), own));
    response.end();
    return;
  }
  let body = answer.body;
  let status = answer.status;
  if (range?.kind === 'part') {
    body = answer.body.subarray(range.start, range.end + 1);
    status = 206;
    own.push('content-range', `bytes ${range.start}-${range.end}/${answer.body.byteLength}`);
  }
  own.push('content-length', String(body.byteLength));
  response.writeHead(status, flatten(answer.lines, own));
  response.end(head ? undefined : body);
}

/** Pipes a streamed answer; resolves when it is sent, rejects when either side fails. */
export async function writeStreamed(
  request: IncomingMessage,
  response: ServerResponse,
  status: number,
  lines: readonly HeaderLine[],
  length: number | undefined,
  body: Readable,
  outcome: CacheOutcome,
  recorder?: AnswerRecorder,
): Promise<void> {
  const own = ownHeaders(outcome, undefined);
  recorder?.head(status, lines);
  if (length !== undefined) own.push('content-length', String(length));
  response.writeHead(status, flatten(lines, own));
  if (request.method === 'HEAD' || status === 204 || status === 304) {
    body.destroy();
    response.end();
    recorder?.end();
    return;
  }
  if (recorder !== undefined) body.on('data', (chunk: Buffer) => recorder.body(chunk));
  await pipeline(body, response);
  recorder?.end();
}

function ownHeaders(outcome: CacheOutcome, age: number | undefined): string[] {
  return age === undefined ? ['x-cache', outcome] : ['age', String(age), 'x-cache', outcome];
}

/**
 * Header lines and the gateway's own, as writeHead takes them. The gateway's `Age` and `X-Cache`
 * replace the origin's (an origin behind another cache may send them); lengths are never in
 * `lines` (response-headers.ts drops them).
 */
function flatten(lines: readonly HeaderLine[], own: readonly string[]): string[] {
  const ownAge = own[0] === 'age';
  const flat: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const [name, value] = lines[i] as HeaderLine;
    if (name === 'x-cache' || (ownAge && name === 'age')) continue;
    flat.push(name, value);
  }
  for (let i = 0; i < own.length; i++) flat.push(own[i] as string);
  return flat;
}

function withoutContent(lines: readonly HeaderLine[]): HeaderLine[] {
  return lines.filter(([name]) => !name.startsWith('content-'));
}

/** RFC 9110 §13.1.1–2: the client's If-None-Match (or, without it, If-Modified-Since) matches. */
function clientCopyIsCurrent(headers: IncomingHttpHeaders, answer: WholeAnswer): boolean {
  const ifNoneMatch = headers['if-none-match'];
  if (ifNoneMatch !== undefined) {
    if (answer.etag === undefined) return false;
    const wanted = weak(answer.etag);
    return ifNoneMatch.split(',').some((tag) => tag.trim() === '*' || weak(tag.trim()) === wanted);
  }
  const since = headers['if-modified-since'];
  if (since === undefined || answer.lastModified === undefined) return false;
  return Date.parse(answer.lastModified) <= Date.parse(since);
}

function weak(tag: string): string {
  return tag.startsWith('W/') ? tag.slice(2) : tag;
}
