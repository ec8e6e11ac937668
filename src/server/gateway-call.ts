/** One request through the gateway, as the read path and the pass-through see it. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Variant } from '../rollout/index.js';
import type { Forwarded } from './forwarding.js';
import type { RequestTarget } from './request-target.js';
import type { ShadowCopy } from './shadow-traffic.js';
import type { Upstream } from './upstream.js';

export interface GatewayCall {
  request: IncomingMessage;
  response: ServerResponse;
  /** The normalised target (its query sorted on a `sortQuery` route): what is keyed and sent to the origin. */
  target: RequestTarget;
  /** The headers sent to the origin, and the trusted forwarding headers that key the answer. */
  forwarded: Forwarded;
  /** The origin answering: the stable one, or the route's candidate (a traffic split). */
  origin: Variant;
  upstream: Upstream;
  /** The copy to send the candidate once this request is answered (shadow traffic), if sampled. */
  shadow?: ShadowCopy;
}
