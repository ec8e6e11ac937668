/**
 * A client's request body, read before the origin is asked, as nginx does by default: a slow
 * upload then holds no origin connection, only a client one (bounded by KEEL_REQUEST_TIMEOUT).
 *
 * The body is held in memory while the shared ByteBudget allows it. When it does not, whatever
 * was read is sent first and the rest streams from the client to the origin, so memory stays
 * bounded however many clients upload at once. Either way a body over KEEL_MAX_BODY_BYTES is
 * refused with BODY_TOO_LARGE (413): at once when its Content-Length says so, else when its
 * bytes cross the limit.
 */
import type { IncomingMessage } from 'node:http';
import { KeelError } from '../errors.js';
import type { ByteBudget } from './byte-budget.js';

export interface RequestBody {
  /** The body to forward: whole, or streamed after what was read; undefined when there is none. */
  body: Buffer | AsyncIterable<Buffer> | undefined;
  /** Gives back the bytes taken from the budget (once the origin has the body). */
  release(): void;
}

const NO_BODY: RequestBody = { body: undefined, release: () => {} };

export async function readRequestBody(
  request: IncomingMessage,
  maxBytes: number,
  budget: ByteBudget,
): Promise<RequestBody> {
  const length = request.headers['content-length'];
  if (request.headers['transfer-encoding'] === undefined && (length === undefined || length === '0'))
    return NO_BODY;
  if (length !== undefined && Number(length) > maxBytes) throw tooLarge(maxBytes);
  const chunks: Buffer[] = [];
  let read = 0;
  let held = 0;
  const release = () => {
    budget.give(held);
    held = 0;
  };
  // Read through one iterator, never left early by a loop: leaving would destroy the request.
  const rest = request[Symbol.asyncIterator]();
  for (let next = await rest.next(); !next.done; next = await rest.next()) {
    const chunk = next.value as Buffer;
    read += chunk.byteLength;
    if (read > maxBytes) {
      release();
      throw tooLarge(maxBytes);
    }
    chunks.push(chunk);
    if (!budget.take(chunk.byteLength)) {
      release();
      return { body: streamed(chunks, rest, read, maxBytes), release };
    }
    held += chunk.byteLength;
  }
  // Several chunks go as they are, not concatenated: a copy would hold the body twice.
  return { body: chunks.length === 1 ? chunks[0] : arrayStream(chunks), release };
}

async function* arrayStream(chunks: Buffer[]): AsyncGenerator<Buffer> {
  yield* chunks;
}

/** What was read, then the rest of the request as it arrives, held to the limit. */
async function* streamed(
  prefix: Buffer[],
  rest: AsyncIterator<unknown>,
  alreadyRead: number,
  maxBytes: number,
): AsyncGenerator<Buffer> {
  yield* prefix;
  let read = alreadyRead;
  for (let next = await rest.next(); !next.done; next = await rest.next()) {
    const chunk = next.value as Buffer;
    read += chunk.byteLength;
    if (read > maxBytes) throw tooLarge(maxBytes);
    yield chunk;
  }
}

function tooLarge(maxBytes: number): KeelError {
  return new KeelError('BODY_TOO_LARGE', `the request body is larger than ${maxBytes} bytes`);
}
