/**
 * How the gateway answers a request it cannot serve: a status, a JSON body with a stable code, a
 * message fit for any client and a request id, and an `X-Request-Id` header with the same id. The
 * details (the origin's address, what failed) go to the log only, in one line under that id, so a
 * client learns nothing of the network behind the gateway and an operator can still find the
 * failure a client reports. Expected failures (the origin's) are logged without a stack trace;
 * anything else is a defect of the gateway and is logged with its stack as INTERNAL_ERROR, unless
 * the client had closed its connection (then it is counted with status 499 and logged at debug).
 */
import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { FastifyBaseLogger as Logger } from 'fastify';
import { isKeelError, type KeelErrorCode } from '../errors.js';
import type { CacheOutcome } from '../observability/index.js';

/** Seconds a client is told to wait when the origin or the gateway is saturated. */
const RETRY_AFTER_SECONDS = 1;

interface ClientError {
  status: number;
  message: string;
  retryAfter?: boolean;
  /** The request's body may be left unread: the connection cannot be reused. */
  closeConnection?: boolean;
}

const CLIENT_ERRORS: Partial<Record<KeelErrorCode, ClientError>> = {
  UPSTREAM_TIMEOUT: { status: 504, message: 'The origin did not answer in time.' },
  UPSTREAM_UNAVAILABLE: { status: 502, message: 'The origin could not be reached.' },
  UPSTREAM_INVALID_RESPONSE: { status: 502, message: 'The origin sent an answer that cannot be relayed.' },
  UPSTREAM_BUSY: { status: 503, message: 'The origin is busy; retry shortly.', retryAfter: true },
  OVERLOADED: { status: 503, message: 'The gateway is overloaded; retry shortly.', retryAfter: true },
  NOT_CACHED: { status: 504, message: 'Not cached, and the request said only-if-cached.' },
  BODY_TOO_LARGE: { status: 413, message: 'The request body is too large.', closeConnection: true },
  BAD_REQUEST: { status: 400, message: 'The request target is not a path.' },
};
const INTERNAL: ClientError = { status: 500, message: 'The gateway failed to answer this request.' };

/** The status counted for a request whose client left before its answer (nginx's convention). */
const CLIENT_CLOSED_STATUS = 499;

/** Request ids: this process's random prefix and a counter (unique, and cheap to make). */
const ID_PREFIX = randomBytes(4).toString('hex');
let lastId = 0;

export interface FailureContext {
  route: string;
  method: string;
  path: string;
  outcome: CacheOutcome;
}

/** Answers `error` (when the answer has not started) and logs it once; returns the error's code. */
export function answerError(
  response: ServerResponse,
  error: unknown,
  context: FailureContext,
  log: Logger,
): KeelErrorCode | 'INTERNAL_ERROR' | 'CLIENT_CLOSED' {
  if (!isKeelError(error) && clientWentAway(response)) {
    // Not a failure of the gateway or the origin: nobody is left to answer.
    response.statusCode = CLIENT_CLOSED_STATUS;
    log.debug({ ...context, reason: (error as Error).message }, 'the client closed the connection');
    return 'CLIENT_CLOSED';
  }
  const code = isKeelError(error) ? error.code : 'INTERNAL_ERROR';
  const known = isKeelError(error) ? CLIENT_ERRORS[error.code] : undefined;
  const requestId = `${ID_PREFIX}-${(++lastId).toString(36)}`;
  if (known === undefined) log.error({ requestId, ...context, err: error }, 'gateway request failed');
  else log.warn({ requestId, ...context, code, reason: (error as Error).message }, 'gateway request failed');
  if (response.headersSent) {
    response.destroy();
    return code;
  }
  const { status, message, retryAfter, closeConnection } = known ?? INTERNAL;
  const body = JSON.stringify({ error: { code, message, requestId } });
  const headers = [
    'content-type',
    'application/json',
    'content-length',
    String(Buffer.byteLength(body)),
    'x-request-id',
    requestId,
    'x-cache',
    context.outcome,
  ];
  if (retryAfter) headers.push('retry-after', String(RETRY_AFTER_SECONDS));
  if (closeConnection) headers.push('connection', 'close');
  response.writeHead(status, headers);
  response.end(body);
  return code;
}

/** The client's connection closed before the answer was sent whole. */
function clientWentAway(response: ServerResponse): boolean {
  return response.destroyed && !response.writableFinished;
}
