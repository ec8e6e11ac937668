/**
 * Shadow traffic: a sampled share of a route's requests (its `shadow:<route>` switch) is answered
 * by the stable origin as usual and also sent, once the client has its answer, to the route's
 * candidate origin. The two answers are compared (rollout/compare.ts, with the route's `compare:`
 * options) and counted as the route's shadow figures, which the guards read as
 * `shadow.match_rate`; the candidate's status and latency count as its `candidate.*` figures.
 *
 * It never costs the stable path more than copying what it writes:
 *   - the copy is sent after the client's answer has been flushed, and nobody waits for it;
 *   - at most KEEL_SHADOW_RATE copies a second are sent, and at most KEEL_SHADOW_CONCURRENCY are
 *     in flight: a request sampled beyond either is not copied (counted as dropped). The rate
 *     bounds the work copies add to the event loop whatever the traffic (a shadow switch at 100 %
 *     on a busy instance compares a steady sample, plenty for a match rate); the concurrency
 *     bounds what a slow candidate holds: a few of its own connections (candidate-origins.ts),
 *     never the stable origin's; and a candidate that failed FAILURES_BEFORE_PAUSE copies in a row
 *     (refused, timed out) is sent nothing for PAUSE_MS, then one copy (the probe) tells whether
 *     it is back, nothing else being sent until it has (without that, a busy gateway sampled a
 *     bucketful of copies into a dead candidate after every pause, before the first had failed);
 *   - what is compared is bounded: a body past MAX_COMPARED_BYTES on either side is not compared
 *     (counted as skipped), the candidate's read within the shared byte budget.
 *
 * Only what can be repeated is copied: GET and HEAD, and writes only to a candidate the routes
 * file calls a dry-run target (`candidate: { origin, dryRun: true }`), with a body the gateway
 * read whole. A request with conditionals or a Range is not copied: the client got a narrowed
 * answer (304, 206) that says nothing of the whole one. An answer Keel itself gave (an origin
 * failure, an overload) is not compared either.
 *
 * A candidate that fails (timeout, refused) counts as a 5xx on its side and as a mismatch. The
 * latest mismatches are kept, both answers and their differences, for `keel rollout diff`.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { type AnswerView, compareAnswers, type Difference, type RolloutFigures } from '../rollout/index.js';
import type { AnswerRecorder } from './answer-writer.js';
import type { ByteBudget } from './byte-budget.js';
import { candidateHeaders } from './candidate-origins.js';
import type { GatewayCall } from './gateway-call.js';
import { firstValues } from './http-cache.js';
import type { HeaderLine } from './response-headers.js';
import { originFiguresTarget } from './route-table.js';
import type { RouteRule } from './routes-file.js';
import type { Upstream } from './upstream.js';

/** Largest body compared on either side. */
export const MAX_COMPARED_BYTES = 1024 * 1024;
/** Mismatches kept (the latest). */
export const MISMATCHES_KEPT = 100;
/** Body bytes kept per side of a kept mismatch. */
const KEPT_BODY_BYTES = 16 * 1024;
const SAFE_METHODS = new Set(['GET', 'HEAD']);
const NARROWING_HEADERS = ['if-none-match', 'if-modified-since', 'if-match', 'if-unmodified-since', 'range'];
/** Copies failed in a row after which a candidate is sent nothing for PAUSE_MS. */
const FAILURES_BEFORE_PAUSE = 5;
const PAUSE_MS = 1_000;
/** What a candidate that did not answer counts as on its side. */
const CANDIDATE_FAILED_STATUS = 502;

export interface ShadowCounts {
  /** Copies sent and compared. */
  compared: number;
  matched: number;
  /**
   * Sampled but not sent: over KEEL_SHADOW_RATE, KEEL_SHADOW_CONCURRENCY copies in flight, or the
   * candidate paused after failing.
   */
  dropped: number;
  /** Sent but not compared: a body too large to compare, or the stable answer was Keel's own. */
  skipped: number;
  /** Copies the candidate did not answer (timeout, refused). */
  failed: number;
}

export interface AnswerSample {
  status: number | string;
  headers: Record<string, string | undefined>;
  /** The body as text, cut at KEPT_BODY_BYTES. */
  body: string;
  bodyBytes: number;
}

export interface Mismatch {
  at: number;
  route: string;
  method: string;
  path: string;
  stable: AnswerSample;
  candidate: AnswerSample;
  differences: Difference[];
  /** Differences beyond the ones listed. */
  more: number;
}

export interface ShadowTrafficOptions {
  figures: RolloutFigures;
  budget: ByteBudget;
  /** Most copies in flight (KEEL_SHADOW_CONCURRENCY). */
  maxInFlight: number;
  /** Most copies sent per second (KEEL_SHADOW_RATE). */
  perSecond: number;
  /** The share (0–100) of the route's requests to copy. */
  shadowPercent: (route: RouteRule) => number;
  /** The route's candidate origin. */
  candidate: (route: RouteRule) => Upstream | undefined;
}

export class ShadowTraffic {
  readonly counts: ShadowCounts = { compared: 0, matched: 0, dropped: 0, skipped: 0, failed: 0 };
  private inFlight = 0;
  private readonly kept: Mismatch[] = [];
  /** Copies that may be sent now (a token bucket refilled at `perSecond`, holding a second's worth). */
  private tokens: number;
  private refilledAt = performance.now();
  /** Per candidate that failed: copies failed in a row, until when it is sent nothing, its probe. */
  private readonly health = new Map<Upstream, CandidateHealth>();

  constructor(private readonly options: ShadowTrafficOptions) {
    this.tokens = options.perSecond;
  }

  /**
   * A copy of the request, to send once it is answered, when it is sampled and can be copied;
   * it starts recording what the client is answered.
   */
  sample(call: GatewayCall, route: RouteRule): ShadowCopy | undefined {
    const percent = this.options.shadowPercent(route);
    if (percent <= 0 || (percent < 100 && Math.random() * 100 >= percent)) return undefined;
    const method = call.request.method ?? 'GET';
    if (!SAFE_METHODS.has(method) && route.candidate?.dryRun !== true) return undefined;
    if (narrowed(call.request.headers)) return undefined;
    const upstream = this.options.candidate(route);
    if (upstream === undefined) return undefined;
    const health = this.health.get(upstream);
    const resting = health !== undefined && (health.probing || health.pausedUntil > performance.now());
    if (this.inFlight >= this.options.maxInFlight || resting || !this.takeToken()) {
      this.counts.dropped++;
      return undefined;
    }
    this.inFlight++;
    // Back from a pause: this copy is the probe.
    const probe = health !== undefined && health.pausedUntil > 0;
    if (probe) health.probing = true;
    return new ShadowCopy(this, call, route, upstream, probe);
  }

  private takeToken(): boolean {
    const now = performance.now();
    const { perSecond } = this.options;
    this.tokens = Math.min(perSecond, this.tokens + ((now - this.refilledAt) * perSecond) / 1_000);
    this.refilledAt = now;
    if (this.tokens < 1) return false;
    this.tokens--;
    return true;
  }

  /** The mismatches kept, latest last; of one route when named. */
  mismatches(route?: string): Mismatch[] {
    return route === undefined ? [...this.kept] : this.kept.filter((kept) => kept.route === route);
  }

  /** Sends `copy` and compares the answers (never rejects). */
  async send(copy: ShadowCopy, body: Buffer | undefined): Promise<void> {
    const { route } = copy;
    const request = copy.takeRequest();
    const target = originFiguresTarget(route.name);
    const stable = copy.stableAnswer();
    const started = performance.now();
    try {
      const candidate = await this.fetch(copy, request, body);
      this.health.delete(copy.upstream);
      this.options.figures.record(target, 'candidate', candidate.status, performance.now() - started);
      if (stable === undefined || candidate.body === undefined) {
        this.counts.skipped++;
        return;
      }
      const view = { status: candidate.status, headers: candidate.headers, body: candidate.body };
      const result = compareAnswers(stable, view, route.compare);
      this.counted(target, result.matched);
      if (!result.matched)
        this.keep({
          ...mismatchOf(route, request, stable),
          candidate: sampleOf(view),
          differences: result.differences,
          more: result.more,
        });
    } catch (error) {
      this.counts.failed++;
      this.failed(copy.upstream);
      this.options.figures.record(target, 'candidate', CANDIDATE_FAILED_STATUS, performance.now() - started);
      if (stable === undefined) return;
      this.counted(target, false);
      const failure = (error as { code?: string }).code ?? 'failed';
      this.keep({
        ...mismatchOf(route, request, stable),
        candidate: { status: failure, headers: {}, body: (error as Error).message, bodyBytes: 0 },
        differences: [{ path: 'status', expected: stable.status, actual: failure }],
        more: 0,
      });
    } finally {
      this.release(copy);
    }
  }

  /** A copy answered, failed or not sent: its slot is free, and so is its candidate's probe. */
  release(copy: ShadowCopy): void {
    this.inFlight--;
    if (copy.probe) {
      const health = this.health.get(copy.upstream);
      if (health !== undefined) health.probing = false;
    }
  }

  private async fetch(
    copy: ShadowCopy,
    request: CopiedRequest,
    body: Buffer | undefined,
  ): Promise<{ status: number; headers: Record<string, string | undefined>; body?: Buffer }> {
    const exchange = await copy.upstream.exchange({ ...request, body, timeoutMs: copy.route.timeoutMs });
    const read = await exchange.buffer(MAX_COMPARED_BYTES, this.options.budget);
    if (read === undefined) exchange.discard();
    return { status: exchange.status, headers: firstValues(exchange.headers), body: read };
  }

  /** Counts a failed copy; past FAILURES_BEFORE_PAUSE in a row, the candidate pauses. */
  private failed(upstream: Upstream): void {
    const health = this.health.get(upstream) ?? { failures: 0, pausedUntil: 0, probing: false };
    health.failures++;
    if (health.failures >= FAILURES_BEFORE_PAUSE) {
      health.failures = FAILURES_BEFORE_PAUSE - 1;
      health.pausedUntil = performance.now() + PAUSE_MS;
    }
    this.health.set(upstream, health);
  }

  private counted(target: string, matched: boolean): void {
    this.counts.compared++;
    if (matched) this.counts.matched++;
    this.options.figures.recordShadow(target, matched);
  }

  private keep(mismatch: Mismatch): void {
    if (this.kept.length >= MISMATCHES_KEPT) this.kept.shift();
    this.kept.push(mismatch);
  }
}

/**
 * A sampled request: what its client was answered (the answer writers record it here, as an
 * AnswerRecorder), and what to send the candidate.
 */
export class ShadowCopy implements AnswerRecorder {
  /** The client's request, until the copy goes (takeRequest). */
  private call: GatewayCall | undefined;
  private requestBody: Buffer | undefined;
  private repeatable = true;
  private readonly answer = new RecordedAnswer();

  constructor(
    private readonly traffic: ShadowTraffic,
    call: GatewayCall,
    readonly route: RouteRule,
    readonly upstream: Upstream,
    /** Whether this copy tells if its candidate, paused after failing, is back. */
    readonly probe = false,
  ) {
    this.call = call;
  }

  head(status: number, lines: readonly HeaderLine[]): void {
    this.answer.head(status, lines);
  }

  body(chunk: Buffer): void {
    this.answer.body(chunk);
  }

  end(): void {
    this.answer.end();
  }

  /** The request's body, as read by the gateway: a body it streamed cannot be sent twice. */
  setBody(body: Buffer | AsyncIterable<Buffer> | undefined): void {
    if (body === undefined || Buffer.isBuffer(body)) this.requestBody = body;
    else this.repeatable = false;
  }

  /**
   * Sends the copy when the client's answer was the origin's, in full; else gives its slot back.
   * It goes once the answer has left for the client's socket (Node flushes a response on a later
   * tick), so the copy's own work never delays it.
   */
  finish(answeredByOrigin: boolean): void {
    if (!answeredByOrigin || !this.repeatable || !this.answer.complete()) {
      this.traffic.release(this);
      return;
    }
    const send = () => setImmediate(() => void this.traffic.send(this, this.requestBody));
    const response = (this.call as GatewayCall).response;
    if (response.writableFinished) send();
    else response.once('finish', send);
  }

  /**
   * What to send the candidate, taken from the client's request once, as the copy goes; the
   * request, its answer and their sockets are let go then, not held until a slow candidate answers.
   */
  takeRequest(): CopiedRequest {
    const call = this.call as GatewayCall;
    this.call = undefined;
    return {
      method: call.request.method ?? 'GET',
      path: `${call.target.path}${call.target.search}`,
      headers: candidateHeaders(call.forwarded.headers, call.request.headers, this.route),
    };
  }

  /** What the client was answered, undefined when its body was too large to compare. */
  stableAnswer(): AnswerView | undefined {
    return this.answer.view();
  }
}

/** The request a copy sends the candidate. */
interface CopiedRequest {
  method: string;
  path: string;
  headers: ReturnType<typeof candidateHeaders>;
}

/** A candidate whose copies failed (kept until one is answered). */
interface CandidateHealth {
  /** Copies failed in a row (held below FAILURES_BEFORE_PAUSE once paused: one more pauses again). */
  failures: number;
  /** Until when it is sent nothing (performance.now()); 0 until it is first paused. */
  pausedUntil: number;
  /** Whether the probe after a pause is on its way. */
  probing: boolean;
}

/**
 * What the client was answered, as the answer writers tell it (answer-writer.ts): the status, the
 * header lines and the body, kept up to MAX_COMPARED_BYTES.
 */
class RecordedAnswer implements AnswerRecorder {
  private status = 0;
  private headers: Record<string, string | undefined> = {};
  private readonly chunks: Buffer[] = [];
  private bytes = 0;
  private ended = false;

  head(status: number, lines: readonly HeaderLine[]): void {
    this.status = status;
    this.headers = linesToHeaders(lines);
  }

  body(chunk: Buffer): void {
    this.bytes += chunk.byteLength;
    if (this.bytes <= MAX_COMPARED_BYTES) this.chunks.push(chunk);
  }

  end(): void {
    this.ended = true;
  }

  complete(): boolean {
    return this.ended && this.status !== 0;
  }

  view(): AnswerView | undefined {
    if (this.bytes > MAX_COMPARED_BYTES) return undefined;
    return { status: this.status, headers: this.headers, body: Buffer.concat(this.chunks, this.bytes) };
  }
}

/** Whether the request carries conditionals or a Range (a loop: no closure per request). */
function narrowed(headers: IncomingHttpHeaders): boolean {
  for (let i = 0; i < NARROWING_HEADERS.length; i++)
    if (headers[NARROWING_HEADERS[i] as string] !== undefined) return true;
  return false;
}

function linesToHeaders(lines: readonly HeaderLine[]): Record<string, string | undefined> {
  const headers: Record<string, string | undefined> = {};
  for (const [name, value] of lines) headers[name.toLowerCase()] ??= value;
  return headers;
}

function mismatchOf(route: RouteRule, request: CopiedRequest, stable: AnswerView) {
  return {
    at: Date.now(),
    route: route.name,
    method: request.method,
    path: request.path,
    stable: sampleOf(stable),
  };
}

function sampleOf(answer: AnswerView): AnswerSample {
  return {
    status: answer.status,
    headers: { ...answer.headers },
    body: answer.body.subarray(0, KEPT_BODY_BYTES).toString('utf8'),
    bodyBytes: answer.body.byteLength,
  };
}
