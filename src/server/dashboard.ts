/**
 * The live dashboard, `/dashboard`: one self-contained page (no external scripts, fonts or icons:
 * it works offline and behind a strict CSP).
 *
 * The page is sent with the gateway's state already in it (`/api/status`, `/api/status/history`
 * and `/api/rollouts` as they are when it is served), and draws it as soon as it loads, so a
 * first look or a screenshot shows figures, not placeholders; then it reads the three endpoints
 * every `refresh` seconds (10 by default, `?refresh=2` to change). Cards: hit rate, the live request
 * rate (the last seconds, not the last history interval), the latency inside the gateway, memory
 * against the budget beside the process's RSS, 5xx share, Redis. The rollout panel: the emergency
 * stop when set, then each active rollout and the last finished one (rolloutPanel below), or one
 * quiet line when there is none. Charts over the history, each with its time axis and its own
 * scale. A figure that has no data yet reads "–", never a made-up 0.
 *
 * Every text from the store (rollout ids, plan descriptions, operators' names and reasons) is
 * operator input: the page inserts it escaped, and the embedded state has its `<` escaped so that
 * no string can close the script element holding it.
 */
import {
  criterionText,
  type Gate,
  type GuardStatus,
  movedSwitches,
  type Plan,
  type Rollout,
  type RolloutRecord,
  type RolloutStatus,
  type Severity,
  type SwitchKey,
  stageWeights,
  triggerText,
} from '../rollout/index.js';
import type { HistoryPoint, StatusSnapshot } from './status.js';

/**
 * The rollout panel's data, `/api/rollouts` and the state embedded in the page alike: every active
 * rollout (running or paused, newest first) and the most recent finished one (by start: a record
 * keeps no end time, so its end is read from its last audit record), each with what the panel
 * draws of it. Times are epoch milliseconds, measured by the page against `at`, the server's clock,
 * so a browser whose clock is off still shows the right time in stage.
 *
 * The guards' last values come from the instance evaluating them (`leader` when it is this one),
 * which shares each evaluation through the store, so every instance's panel shows them. An
 * evaluation older than the stage (made before a promotion or a resume) is not the stage's: the
 * panel waits for the next one rather than show the previous stage's verdicts.
 */
export interface RolloutPanel {
  at: number;
  /** Whether this instance evaluates the guards (their values are known here only). */
  leader: boolean;
  emergencyStop: { actor: string; reason: string; at: number } | null;
  rollouts: RolloutCard[];
  /** Why the rollouts cannot be read (the store unreachable); then `rollouts` is empty. */
  unavailable?: string;
}

export interface RolloutCard {
  id: string;
  plan: string;
  description: string | null;
  status: RolloutStatus;
  active: boolean;
  startedAt: number;
  /** A finished rollout's end (its last audit record). */
  endedAt: number | null;
  /** The stages' names, in order. */
  stages: string[];
  /** `index` from 0 (the page shows n of N from 1); null when the plan cannot be read. */
  stage: {
    index: number;
    name: string;
    description: string | null;
    gate: Gate;
    startedAt: number;
    minDurationMs: number;
  } | null;
  /** Every switch the plan moves: its weight on this instance's board, and the stage's weight. */
  switches: { key: SwitchKey; weight: number | null; stageWeight: number | null }[];
  /** Where the guards are evaluated; null for a finished rollout. */
  guards: {
    here: boolean;
    /** The instance that made the stage's last evaluation; null before the first one. */
    by: string | null;
    /** The stage's last evaluation; null before the first one. */
    evaluatedAt: number | null;
    intervalMs: number;
  } | null;
  /** The stage's success criteria; `state` null when not known here. */
  criteria: { text: string; state: 'holds' | 'fails' | 'waits' | null }[];
  /** The stage's and the plan's rollback triggers; `no data`: too few samples to judge. */
  triggers: {
    text: string;
    severity: Severity;
    value: number | null;
    state: 'breaching' | 'ok' | 'no data' | null;
  }[];
  pause: {
    severity: Severity;
    trigger: string;
    since: number;
    /** When the controller rolls back unless acknowledged (null: acknowledged, or no deadline). */
    rollbackAt: number | null;
    acknowledgedBy: string | null;
  } | null;
  /** Why the plan cannot be read (then the stage, switches, criteria and triggers are empty). */
  problem: string | null;
}

const ACTIVE: ReadonlySet<RolloutStatus> = new Set(['running', 'paused', 'pending']);

/** The rollout panel as it is now; throws when the store cannot be read. */
export async function rolloutPanel(rollout: Rollout, now = Date.now()): Promise<RolloutPanel> {
  const [records, stop] = await Promise.all([rollout.store.rollouts(), rollout.store.emergencyStop()]);
  const weights = rollout.board.weights();
  const active = records.filter((r) => ACTIVE.has(r.status)).sort((a, b) => b.startedAt - a.startedAt);
  const finished = records
    .filter((r) => !ACTIVE.has(r.status))
    .reduce<RolloutRecord | undefined>(
      (last, r) => (last === undefined || r.startedAt > last.startedAt ? r : last),
      undefined,
    );
  const evaluations = await Promise.all(active.map((record) => rollout.guards(record.id)));
  const cards = active.map((record, i) => rolloutCard(rollout, record, weights, evaluations[i]));
  if (finished !== undefined) {
    const [last] = await rollout.store.audit({ rolloutId: finished.id, limit: 1 });
    cards.push({ ...rolloutCard(rollout, finished, weights, undefined), endedAt: last?.at ?? null });
  }
  return {
    at: now,
    leader: rollout.controller.isLeader,
    emergencyStop: stop?.active === true ? { actor: stop.actor, reason: stop.reason, at: stop.at } : null,
    rollouts: cards,
  };
}

/** The panel when the rollout store cannot be read. */
export function storeUnavailable(error: unknown): RolloutPanel {
  return {
    at: Date.now(),
    leader: false,
    emergencyStop: null,
    rollouts: [],
    unavailable: `the rollouts cannot be read from their store: ${(error as Error).message}`,
  };
}

function rolloutCard(
  rollout: Rollout,
  record: RolloutRecord,
  weights: Record<SwitchKey, number>,
  last: GuardStatus | undefined,
): RolloutCard {
  const active = ACTIVE.has(record.status);
  const pause = record.pause;
  const card: RolloutCard = {
    id: record.id,
    plan: record.plan,
    description: null,
    status: record.status,
    active,
    startedAt: record.startedAt,
    endedAt: null,
    stages: [],
    stage: null,
    switches: [],
    guards: null,
    criteria: [],
    triggers: [],
    pause:
      pause === undefined
        ? null
        : {
            severity: pause.severity,
            trigger: pause.trigger,
            since: pause.since,
            rollbackAt: pause.acknowledgedBy === undefined ? (pause.rollbackAt ?? null) : null,
            acknowledgedBy: pause.acknowledgedBy ?? null,
          },
    problem: null,
  };
  let plan: Plan;
  try {
    plan = rollout.controller.planOf(record);
  } catch (error) {
    return { ...card, problem: `its plan cannot be read: ${(error as Error).message}` };
  }
  const index = Math.min(record.stage, plan.stages.length - 1);
  const stage = plan.stages[index] as Plan['stages'][number];
  const atStage = stageWeights(plan, index);
  card.description = plan.description ?? null;
  card.stages = plan.stages.map((s) => s.name);
  card.stage = {
    index,
    name: stage.name,
    description: stage.description ?? null,
    gate: stage.gate,
    startedAt: record.stageStartedAt,
    minDurationMs: stage.minDurationMs,
  };
  card.switches = movedSwitches(plan).map((key) => ({
    key,
    weight: weights[key] ?? null,
    stageWeight: atStage[key] ?? null,
  }));
  if (!active) return card;
  const guards = last !== undefined && last.at > record.stageStartedAt ? last : undefined;
  card.guards = {
    here: rollout.controller.isLeader,
    by: guards?.instance ?? null,
    evaluatedAt: guards?.at ?? null,
    intervalMs: plan.evaluationIntervalMs,
  };
  card.criteria = stage.success.map((criterion, i) => {
    const judged = guards?.criteria[i];
    if (judged === undefined) return { text: criterionText(criterion), state: null };
    return {
      text: judged.text,
      state: judged.holds === undefined ? 'waits' : judged.holds ? 'holds' : 'fails',
    };
  });
  const breaches = record.breaches ?? {};
  card.triggers = [...stage.rollback, ...plan.rollback].map((trigger) => {
    const text = triggerText(trigger);
    const value = guards?.values[text];
    const state =
      guards === undefined
        ? text in breaches
          ? 'breaching'
          : null
        : guards.breaching.includes(text)
          ? 'breaching'
          : value === undefined
            ? 'no data'
            : 'ok';
    return { text, severity: trigger.severity, value: value ?? null, state };
  });
  return card;
}

/** The page, with `initial` embedded for its first drawing. */
export function dashboardHtml(initial: {
  status: StatusSnapshot;
  history: readonly HistoryPoint[];
  rollouts: RolloutPanel;
}): string {
  // `<` escaped so that no string in the data can close the script element.
  const state = JSON.stringify(initial).replace(/</g, '\\u003c');
  return PAGE.replace('__INITIAL_STATE__', () => state);
}

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>Keel gateway</title>
<style>
  :root { --bg: #0f1419; --panel: #182028; --text: #e6edf3; --muted: #8b98a5; --grid: #26313b; --accent: #4fb3ff; --ok: #3fb950; --warn: #d29922; --bad: #f85149; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.4 system-ui, -apple-system, Segoe UI, sans-serif; background: var(--bg); color: var(--text); }
  header { display: flex; flex-wrap: wrap; gap: 8px; justify-content: space-between; align-items: baseline; padding: 16px 24px; border-bottom: 1px solid var(--grid); }
  h1 { font-size: 18px; margin: 0; } h1 span { color: var(--accent); }
  #meta { color: var(--muted); font-size: 12px; }
  main { padding: 16px 24px; display: grid; gap: 16px; }
  .cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(170px, 1fr)); gap: 12px; }
  .card, .chart, .table { background: var(--panel); border-radius: 8px; }
  .card { padding: 12px 14px; min-width: 0; } .card.wide { grid-column: span 2; }
  .card .label { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
  .card .value { font-size: 24px; font-weight: 600; margin-top: 4px; font-variant-numeric: tabular-nums; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
  .card .sub { color: var(--muted); font-size: 12px; }
  .charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(340px, 1fr)); gap: 12px; }
  .chart { padding: 10px 12px; } .chart h2 { font-size: 13px; font-weight: 500; color: var(--muted); margin: 0 0 6px; }
  svg { width: 100%; height: 160px; display: block; overflow: visible; }
  .legend { font-size: 11px; color: var(--muted); } .legend b { display: inline-block; width: 10px; height: 3px; margin: 0 4px 2px 8px; vertical-align: middle; }
  .table { overflow-x: auto; }
  table { width: 100%; border-collapse: collapse; }
  th, td { text-align: left; padding: 8px 10px; border-bottom: 1px solid var(--grid); font-variant-numeric: tabular-nums; white-space: nowrap; }
  th { color: var(--muted); font-weight: 500; font-size: 12px; }
  .ok { color: var(--ok); } .warn { color: var(--warn); } .bad { color: var(--bad); }
  .bar { height: 6px; background: var(--grid); border-radius: 3px; width: 80px; display: inline-block; vertical-align: middle; }
  .bar i { display: block; height: 100%; background: var(--accent); border-radius: 3px; }
  .rollouts { display: grid; gap: 12px; }
  .quiet { color: var(--muted); font-size: 13px; padding: 0 2px; }
  .banner { border: 1px solid var(--bad); background: rgba(248, 81, 73, .12); color: var(--bad); border-radius: 8px; padding: 10px 14px; }
  .banner b { letter-spacing: .04em; }
  .rollout { background: var(--panel); border-radius: 8px; padding: 12px 14px; display: grid; gap: 10px; min-width: 0; }
  .rollout.finished { opacity: .8; }
  .rollout .head { display: flex; flex-wrap: wrap; gap: 4px 12px; align-items: baseline; }
  .rollout .id { font-size: 15px; font-weight: 600; overflow-wrap: anywhere; }
  .rollout .muted, .rollout .sub { color: var(--muted); } .rollout .sub { font-size: 12px; }
  .pill { font-size: 11px; text-transform: uppercase; letter-spacing: .04em; border: 1px solid currentColor; border-radius: 10px; padding: 0 7px; }
  .steps { display: flex; flex-wrap: wrap; gap: 4px; align-items: center; font-size: 12px; color: var(--muted); }
  .steps span { padding: 1px 8px; border-radius: 10px; background: var(--grid); }
  .steps .done { color: var(--ok); } .steps .now { background: var(--accent); color: var(--bg); font-weight: 600; }
  .columns { display: grid; grid-template-columns: repeat(auto-fit, minmax(280px, 1fr)); gap: 8px 24px; }
  .columns h3 { font-size: 12px; font-weight: 500; color: var(--muted); text-transform: uppercase; letter-spacing: .04em; margin: 0 0 4px; }
  .columns ul { list-style: none; margin: 0; padding: 0; }
  .columns li { display: flex; gap: 8px; align-items: baseline; padding: 2px 0; font-variant-numeric: tabular-nums; }
  .columns li .mark { flex: none; width: 64px; font-size: 12px; }
  .columns li .text { flex: 1; min-width: 0; overflow-wrap: anywhere; }
  .columns li .key { flex: 1; min-width: 0; overflow-wrap: anywhere; }
  .columns li .weight { flex: none; width: 92px; }
  .pause { border-left: 3px solid var(--warn); padding: 2px 0 2px 10px; }
  @media (max-width: 560px) { .card.wide { grid-column: span 1; } .card .value { font-size: 20px; } }
</style>
</head>
<body>
<header><h1><span>Keel</span> gateway</h1><div id="meta"></div></header>
<main>
  <section class="cards">
    <div class="card"><div class="label">Hit rate</div><div class="value" id="hit-rate"></div><div class="sub" id="hit-rate-sub"></div></div>
    <div class="card"><div class="label">Requests / s</div><div class="value" id="request-rate"></div><div class="sub" id="requests-total"></div></div>
    <div class="card wide"><div class="label">Time inside the gateway p50 / p95 / p99</div><div class="value" id="latency"></div><div class="sub" id="latency-sub"></div></div>
    <div class="card"><div class="label">Cache memory</div><div class="value" id="memory"></div><div class="sub" id="memory-sub"></div></div>
    <div class="card"><div class="label">Errors (5xx)</div><div class="value" id="errors"></div><div class="sub" id="errors-sub"></div></div>
    <div class="card"><div class="label">Redis</div><div class="value" id="redis"></div><div class="sub" id="redis-sub"></div></div>
  </section>
  <section class="rollouts" id="rollouts" aria-label="Rollouts"></section>
  <section class="charts">
    <div class="chart"><h2>Hit rate (%)</h2><svg id="chart-hit" viewBox="0 0 440 160"></svg></div>
    <div class="chart"><h2>Requests per second</h2><svg id="chart-rate" viewBox="0 0 440 160"></svg></div>
    <div class="chart"><h2>Time inside the gateway (ms) <span class="legend"><b style="background:#3fb950"></b>p50<b style="background:#d29922"></b>p95<b style="background:#f85149"></b>p99</span></h2><svg id="chart-latency" viewBox="0 0 440 160"></svg></div>
    <div class="chart"><h2>Memory (MiB) <span class="legend"><b style="background:#4fb3ff"></b>cache<b style="background:#8b98a5"></b>cache budget<b style="background:#d29922"></b>process RSS</span></h2><svg id="chart-memory" viewBox="0 0 440 160"></svg></div>
  </section>
  <div class="table"><table>
    <thead><tr><th>Route</th><th>Kind</th><th>Path</th><th>Enabled</th><th>Requests</th><th>Hit rate</th><th>p95 ms</th><th>HIT / MISS / STALE / REVAL / BYPASS</th></tr></thead>
    <tbody id="routes"></tbody>
  </table></div>
</main>
<script id="initial-state" type="application/json">__INITIAL_STATE__</script>
<script>
const refreshSeconds = Number(new URLSearchParams(location.search).get('refresh')) || 10;
const NONE = '–';
const $ = (id) => document.getElementById(id);
const pct = (x) => (x * 100).toFixed(1) + ' %';
const ms = (x) => x < 10 ? x.toFixed(2) : x < 100 ? x.toFixed(1) : x.toFixed(0);
const size = (b) => (b >= 1073741824 ? (b / 1073741824).toFixed(2) + ' GiB' : b >= 1048576 ? (b / 1048576).toFixed(1) + ' MiB' : (b / 1024).toFixed(1) + ' KiB');
const ago = (seconds) => seconds < 90 ? '−' + Math.max(1, Math.round(seconds)) + ' s' : '−' + Math.round(seconds / 60) + ' min';
const esc = (text) => String(text).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
/** A duration: 45 s, 12 min, 5.5 h, 3 d. */
const span = (msecs) => {
  const s = Math.max(0, msecs) / 1000, round = (x) => Number(x.toFixed(x < 10 ? 1 : 0));
  return s < 90 ? Math.round(s) + ' s' : s < 3600 ? Math.round(s / 60) + ' min' : s < 259200 ? round(s / 3600) + ' h' : round(s / 86400) + ' d';
};
const W = 440, H = 160, LEFT = 36, BOTTOM = 18, TOP = 6;
/** Lines over time: points are [epoch ms, value]; the x axis is time, the y axis its own scale. */
function chart(svg, series, colors, floorMax) {
  const points = series.flat();
  if (points.length < 2) { svg.innerHTML = '<text x="' + W / 2 + '" y="' + H / 2 + '" text-anchor="middle" fill="#8b98a5" font-size="12">no data yet</text>'; return; }
  const t0 = Math.min(...points.map((p) => p[0])), t1 = Math.max(...points.map((p) => p[0]), t0 + 1);
  const max = Math.max(floorMax ?? 0, ...points.map((p) => p[1]), 1e-9);
  const x = (t) => LEFT + ((t - t0) / (t1 - t0)) * (W - LEFT - 4);
  const y = (v) => H - BOTTOM - (v / max) * (H - BOTTOM - TOP);
  let out = '';
  for (let k = 0; k <= 2; k++) {
    const v = (max * k) / 2, yy = y(v).toFixed(1);
    out += '<line x1="' + LEFT + '" x2="' + W + '" y1="' + yy + '" y2="' + yy + '" stroke="#26313b"/>';
    out += '<text x="' + (LEFT - 4) + '" y="' + (Number(yy) + 4) + '" text-anchor="end" fill="#8b98a5" font-size="10">' + (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toPrecision(2)) + '</text>';
  }
  // The last point is taken when the page is drawn (status.ts): the axis ends at "now".
  for (const [t, anchor] of [[t0, 'start'], [(t0 + t1) / 2, 'middle'], [t1, 'end']]) {
    const label = t === t1 ? 'now' : ago((t1 - t) / 1000);
    out += '<text x="' + x(t).toFixed(1) + '" y="' + (H - 4) + '" text-anchor="' + anchor + '" fill="#8b98a5" font-size="10">' + label + '</text>';
  }
  series.forEach((line, i) => {
    if (line.length === 0) return;
    out += '<polyline fill="none" stroke-width="2" stroke="' + colors[i] + '" points="' + line.map((p) => x(p[0]).toFixed(1) + ',' + y(p[1]).toFixed(1)).join(' ') + '"/>';
  });
  svg.innerHTML = out;
}
/** Per-interval figures from the cumulative history; each at the interval's end. */
function intervals(history) {
  const rows = [];
  for (let i = 1; i < history.length; i++) {
    const a = history[i - 1], b = history[i], dt = (b.at - a.at) / 1000 || 1;
    const lookups = b.cacheLookups - a.cacheLookups, requests = b.requests - a.requests;
    rows.push({ at: b.at, rate: requests / dt, hit: lookups > 0 ? ((b.cacheHits - a.cacheHits) / lookups) * 100 : undefined,
      p50: b.p50Ms, p95: b.p95Ms, p99: b.p99Ms, served: requests > 0 });
  }
  return rows;
}
function render(status, history) {
  const rows = intervals(history);
  const http = status.http;
  $('meta').textContent = 'origin ' + status.origin.url + (status.origin.sample ? ' (sample)' : '') + ' · up ' + status.uptimeSeconds + ' s · updated ' + new Date(status.at).toLocaleTimeString();
  const cacheable = status.routes.some((r) => r.kind === 'read' && r.requests - r.outcomes.BYPASS > 0);
  $('hit-rate').textContent = cacheable ? pct(http.hitRate) : NONE;
  $('hit-rate-sub').textContent = status.cache.requests.total > 0 ? 'cache lookups: ' + pct(status.cache.hitRate) + ' (L1 ' + pct(status.cache.l1HitRate) + ')' : 'no cache lookups yet';
  $('request-rate').textContent = http.requestsPerSecond.toFixed(1);
  $('requests-total').textContent = http.requests + ' requests in all';
  const l = http.latencyMs;
  $('latency').textContent = l.count > 0 ? ms(l.p50) + ' / ' + ms(l.p95) + ' / ' + ms(l.p99) + ' ms' : NONE;
  $('latency-sub').textContent = l.count > 0 ? 'from the request to its answer, inside this process; since start-up' : 'no requests yet';
  const m = status.cache.memory;
  $('memory').textContent = pct(m.utilization);
  $('memory').className = 'value ' + (m.utilization < 0.7 ? 'ok' : m.utilization < 0.85 ? 'warn' : 'bad');
  $('memory-sub').textContent = size(m.bytes) + ' of ' + size(m.budgetBytes) + ' · ' + m.entries + ' entries · process RSS ' + size(status.process.rssBytes);
  const errorRate = http.requests ? http.errors / http.requests : undefined;
  $('errors').textContent = errorRate === undefined ? NONE : pct(errorRate);
  $('errors').className = 'value ' + (errorRate === undefined ? '' : errorRate < 0.001 ? 'ok' : errorRate < 0.01 ? 'warn' : 'bad');
  $('errors-sub').textContent = http.errors + ' in all';
  const redis = status.cache.redis;
  $('redis').textContent = redis ? redis.state : 'L1 only';
  $('redis').className = 'value ' + (!redis || redis.state === 'ready' ? 'ok' : 'bad');
  $('redis-sub').textContent = redis ? 'breaker ' + redis.breaker + ' · bus lag p99 ' + redis.busLagP99Ms.toFixed(1) + ' ms' : 'no REDIS_URL';
  chart($('chart-hit'), [rows.filter((r) => r.hit !== undefined).map((r) => [r.at, r.hit])], ['#4fb3ff'], 100);
  const start = history.length > 0 ? [[history[0].at, 0]] : [];
  chart($('chart-rate'), [start.concat(rows.map((r) => [r.at, r.rate]))], ['#4fb3ff'], 1);
  const served = rows.filter((r) => r.served);
  chart($('chart-latency'), [served.map((r) => [r.at, r.p50]), served.map((r) => [r.at, r.p95]), served.map((r) => [r.at, r.p99])], ['#3fb950', '#d29922', '#f85149']);
  const mib = (b) => b / 1048576;
  chart($('chart-memory'), [history.map((p) => [p.at, mib(p.memoryBytes)]), history.map((p) => [p.at, mib(p.budgetBytes)]), history.map((p) => [p.at, mib(p.rssBytes)])], ['#4fb3ff', '#8b98a5', '#d29922']);
  $('routes').innerHTML = status.routes.map((r) => {
    const cacheableRequests = r.requests - r.outcomes.BYPASS;
    return '<tr><td>' + esc(r.route) + '</td><td>' + r.kind + '</td><td>' + esc(r.path) + '</td><td>' +
      (r.kind === 'read' ? '<span class="bar"><i style="width:' + r.enabledPercent + '%"></i></span> ' + r.enabledPercent + ' %' : NONE) + '</td><td>' + r.requests +
      '</td><td>' + (r.kind === 'read' && cacheableRequests > 0 ? pct(r.hitRate) : NONE) + '</td><td>' + (r.latencyMs.count > 0 ? ms(r.latencyMs.p95) : NONE) + '</td><td>' +
      [r.outcomes.HIT, r.outcomes.MISS, r.outcomes.STALE, r.outcomes.REVALIDATED, r.outcomes.BYPASS].join(' / ') + '</td></tr>';
  }).join('');
}
const TONE = { running: 'ok', paused: 'warn', pending: '', complete: 'ok', 'rolled-back': 'bad', stopped: '' };
const CRITERION = { holds: ['holds', 'ok'], fails: ['fails', 'bad'], waits: ['waits', 'warn'] };
const TRIGGER = { ok: ['ok', 'ok'], breaching: ['breaching', 'bad'], 'no data': ['no data', 'muted'] };
const mark = (pair) => '<span class="mark ' + (pair ? pair[1] : '') + '">' + (pair ? pair[0] : NONE) + '</span>';
const figure = (v) => v === null ? NONE : String(Number(v.toPrecision(3)));
/** The rollout panel (dashboard.ts rolloutPanel): every text from the store escaped. */
function renderRollouts(view) {
  if (view.unavailable) { $('rollouts').innerHTML = '<div class="quiet bad">' + esc(view.unavailable) + '</div>'; return; }
  let out = '';
  const stop = view.emergencyStop;
  if (stop) out += '<div class="banner" id="emergency-stop"><b>EMERGENCY STOP</b> by ' + esc(stop.actor) + ', ' + span(view.at - stop.at) + ' ago: ' + esc(stop.reason) +
    ' — every active rollout at its safe weights, no promotion until cleared (keel rollout emergency-stop --clear)</div>';
  if (view.rollouts.length === 0) out += '<div class="quiet" id="no-rollout">no rollout — keel rollout start &lt;plan&gt; starts one (keel rollout plans lists the built-in ones)</div>';
  $('rollouts').innerHTML = out + view.rollouts.map((r) => rolloutCard(r, view.at, stop !== null)).join('');
}
function rolloutCard(r, now, stopped) {
  let out = '<article class="rollout' + (r.active ? '' : ' finished') + '"><div class="head"><span class="id">' + esc(r.id) + '</span><span class="pill ' + (TONE[r.status] ?? '') + '">' + esc(r.status) + '</span>' +
    '<span class="muted">plan ' + esc(r.plan) + (r.description ? ' — ' + esc(r.description) : '') + '</span></div>';
  if (r.problem) return out + '<div class="bad">' + esc(r.problem) + '</div></article>';
  const s = r.stage;
  out += '<div class="steps">' + r.stages.map((name, i) => '<span class="' + (i < s.index ? 'done' : i === s.index ? 'now' : '') + '">' + (i + 1) + ' ' + esc(name) + '</span>').join('›') + '</div>';
  out += '<div class="stage">Stage <b>' + (s.index + 1) + ' of ' + r.stages.length + '</b>, ' + esc(s.name);
  if (r.active) {
    const inStage = now - s.startedAt, share = s.minDurationMs > 0 ? Math.min(100, (inStage / s.minDurationMs) * 100) : 100;
    out += ' · ' + span(inStage) + ' in stage of ' + span(s.minDurationMs) + ' minimum <span class="bar"><i style="width:' + share.toFixed(1) + '%"></i></span>' +
      ' · gate ' + esc(s.gate) + (s.gate === 'manual' ? ' (keel rollout promote)' : '');
  } else {
    out += ' · ' + (r.endedAt === null ? 'ended' : 'ended ' + span(now - r.endedAt) + ' ago') + ', started ' + new Date(r.startedAt).toLocaleString();
  }
  out += (s.description ? '<div class="sub">' + esc(s.description) + '</div>' : '') + '</div>';
  const p = r.pause;
  if (p) out += '<div class="pause"><span class="warn">Paused (' + esc(p.severity) + ')</span> ' + span(now - p.since) + ' ago: ' + esc(p.trigger) + '<div class="sub">' +
    (p.acknowledgedBy ? 'acknowledged by ' + esc(p.acknowledgedBy) + ': no rollback at a deadline; keel rollout resume or rollback decides'
      : p.rollbackAt !== null ? 'rolls back in ' + span(p.rollbackAt - now) + (p.severity === 'high' ? ' if still breaching' : '') + ' unless acknowledged (keel rollout ack)' : '') + '</div></div>';
  out += '<div class="columns"><div><h3>Switches' + (r.active ? ' (stage weight)' : '') + '</h3><ul>' + r.switches.map((w) =>
    '<li><span class="key">' + esc(w.key) + '</span><span class="bar"><i style="width:' + (w.weight ?? 0) + '%"></i></span><span class="weight">' + (w.weight === null ? NONE : w.weight + ' %') +
    (r.active && w.stageWeight !== w.weight ? ' <span class="warn">(' + (w.stageWeight === null ? NONE : w.stageWeight + ' %') + ')</span>' : '') + '</span></li>').join('') + '</ul></div>';
  if (r.active) {
    const g = r.guards;
    out += '<div><h3>Success criteria</h3><ul>' + (r.criteria.length === 0 ? '<li class="muted">none: the gate alone decides</li>' : r.criteria.map((c) => '<li>' + mark(CRITERION[c.state]) + '<span class="text">' + esc(c.text) + '</span></li>').join('')) + '</ul></div>';
    out += '<div><h3>Rollback triggers</h3><ul>' + (r.triggers.length === 0 ? '<li class="muted">none</li>' : r.triggers.map((t) => '<li>' + mark(TRIGGER[t.state]) + '<span class="text">' + esc(t.text) + '</span><span>' + figure(t.value) + '</span></li>').join('')) + '</ul></div>';
    out += '</div><div class="sub">' + (stopped ? 'guards not evaluated while the emergency stop is set' : g.evaluatedAt === null ? 'guards not evaluated in this stage yet; they are every ' + span(g.intervalMs)
      : 'guards evaluated ' + (g.here ? '' : 'by ' + esc(g.by) + ' ') + span(now - g.evaluatedAt) + ' ago, every ' + span(g.intervalMs)) + '</div>';
  } else out += '</div>';
  return out + '</article>';
}
const json = (response) => response.json();
async function refresh() {
  try {
    const [status, history, rollouts] = await Promise.all([fetch('/api/status').then(json), fetch('/api/status/history').then(json),
      fetch('/api/rollouts').then(json).then((body) => (body.error ? { unavailable: body.error.message } : body))]);
    render(status, history);
    renderRollouts(rollouts);
  } catch (error) {
    $('meta').textContent = 'cannot reach the gateway: ' + error.message;
  }
}
const initial = JSON.parse($('initial-state').textContent);
render(initial.status, initial.history);
renderRollouts(initial.rollouts);
setInterval(refresh, refreshSeconds * 1000);
</script>
</body>
</html>
`;
