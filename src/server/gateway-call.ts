/** One request through the gateway, as the read path and the pass-through see it. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Forwarded } from './forwarding.js';
import type { RequestTarget } from './request-target.js';

export interface GatewayCall {
  request: IncomingMessage;
  response: ServerResponse;
  /** The normalised target (its query sorted on a `sortQuery` route): what is keyed and sent to the origin. */
  target: RequestTarget;
  /** The headers sent to the origin, and the trusted forwarding headers that key the answer. */
  forwarded: Forwarded;
}
