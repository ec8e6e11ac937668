/**
 * The live dashboard, `/dashboard`: one self-contained page (no external scripts, fonts or icons:
 * it works offline and behind a strict CSP).
 *
 * The page is sent with the gateway's state already in it (`/api/status` and
 * `/api/status/history` as they are when it is served), and draws it as soon as it loads, so a
 * first look or a screenshot shows figures, not placeholders; then it reads both endpoints every
 * `refresh` seconds (10 by default, `?refresh=2` to change). Cards: hit rate, the live request
 * rate (the last seconds, not the last history interval), the latency inside the gateway, memory
 * against the budget beside the process's RSS, 5xx share, Redis. Charts over the history, each with
 * its time axis and its own scale. A figure that has no data yet reads "–", never a made-up 0.
 */
import type { HistoryPoint, StatusSnapshot } from './status.js';

/** The page, with `initial` embedded for its first drawing. */
export function dashboardHtml(initial: { status: StatusSnapshot; history: readonly HistoryPoint[] }): string {
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
const esc = (text) => String(text).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
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
  chart($('chart-rate'), [start.concat(rows.map((r) => [r.at, r.rate]))], ['#4fb3ff']);
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
async function refresh() {
  try {
    const [status, history] = await Promise.all([fetch('/api/status').then((r) => r.json()), fetch('/api/status/history').then((r) => r.json())]);
    render(status, history);
  } catch (error) {
    $('meta').textContent = 'cannot reach the gateway: ' + error.message;
  }
}
const initial = JSON.parse($('initial-state').textContent);
render(initial.status, initial.history);
setInterval(refresh, refreshSeconds * 1000);
</script>
</body>
</html>
`;
