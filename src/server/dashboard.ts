/**
 * The live dashboard, `/dashboard`: one self-contained page (no external scripts or fonts: it
 * works offline and behind strict CSP) that reads `/api/status` and `/api/status/history` every
 * `refresh` seconds (10 by default, `?refresh=2` to change) and draws hit rate, request rate,
 * latency p50/p95/p99 and memory against the budget as SVG charts, Redis and breaker state, and
 * each route's enablement and figures.
 */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Keel gateway</title>
<style>
  :root { --bg: #0f1419; --panel: #182028; --text: #e6edf3; --muted: #8b98a5; --accent: #4fb3ff; --ok: #3fb950; --warn: #d29922; --bad: #f85149; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.4 system-ui, -apple-system, Segoe UI, sans-serif; background: var(--bg); color: var(--text); }
  header { display: flex; justify-content: space-between; align-items: baseline; padding: 16px 24px; border-bottom: 1px solid #26313b; }
  h1 { font-size: 18px; margin: 0; } h1 span { color: var(--accent); }
  #meta { color: var(--muted); font-size: 12px; }
  main { padding: 16px 24px; display: grid; gap: 16px; }
  .cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(160px, 1fr)); gap: 12px; }
  .card, .chart, table { background: var(--panel); border-radius: 8px; }
  .card { padding: 12px 14px; } .card .label { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
  .card .value { font-size: 24px; font-weight: 600; margin-top: 4px; font-variant-numeric: tabular-nums; }
  .card .sub { color: var(--muted); font-size: 12px; }
  .charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(340px, 1fr)); gap: 12px; }
  .chart { padding: 10px 12px; } .chart h2 { font-size: 13px; font-weight: 500; color: var(--muted); margin: 0 0 6px; }
  svg { width: 100%; height: 140px; display: block; }
  .legend { font-size: 11px; color: var(--muted); } .legend b { display: inline-block; width: 10px; height: 3px; margin: 0 4px 2px 8px; vertical-align: middle; }
  table { width: 100%; border-collapse: collapse; overflow: hidden; }
  th, td { text-align: left; padding: 8px 10px; border-bottom: 1px solid #26313b; font-variant-numeric: tabular-nums; }
  th { color: var(--muted); font-weight: 500; font-size: 12px; }
  .ok { color: var(--ok); } .warn { color: var(--warn); } .bad { color: var(--bad); }
  .bar { height: 6px; background: #26313b; border-radius: 3px; width: 100px; display: inline-block; vertical-align: middle; }
  .bar i { display: block; height: 100%; background: var(--accent); border-radius: 3px; }
</style>
</head>
<body>
<header><h1><span>Keel</span> gateway</h1><div id="meta">connecting…</div></header>
<main>
  <section class="cards">
    <div class="card"><div class="label">Hit rate</div><div class="value" id="hit-rate">–</div><div class="sub" id="hit-rate-sub"></div></div>
    <div class="card"><div class="label">Requests / s</div><div class="value" id="request-rate">–</div><div class="sub" id="requests-total"></div></div>
    <div class="card"><div class="label">Latency p50 / p95 / p99</div><div class="value" id="latency">–</div><div class="sub">ms, last interval</div></div>
    <div class="card"><div class="label">Memory</div><div class="value" id="memory">–</div><div class="sub" id="memory-sub"></div></div>
    <div class="card"><div class="label">Errors (5xx)</div><div class="value" id="errors">–</div><div class="sub" id="errors-sub"></div></div>
    <div class="card"><div class="label">Redis</div><div class="value" id="redis">–</div><div class="sub" id="redis-sub"></div></div>
  </section>
  <section class="charts">
    <div class="chart"><h2>Hit rate (%)</h2><svg id="chart-hit" viewBox="0 0 400 140" preserveAspectRatio="none"></svg></div>
    <div class="chart"><h2>Requests per second</h2><svg id="chart-rate" viewBox="0 0 400 140" preserveAspectRatio="none"></svg></div>
    <div class="chart"><h2>Latency (ms) <span class="legend"><b style="background:#3fb950"></b>p50<b style="background:#d29922"></b>p95<b style="background:#f85149"></b>p99</span></h2><svg id="chart-latency" viewBox="0 0 400 140" preserveAspectRatio="none"></svg></div>
    <div class="chart"><h2>Memory (MiB) <span class="legend"><b style="background:#4fb3ff"></b>used<b style="background:#8b98a5"></b>budget</span></h2><svg id="chart-memory" viewBox="0 0 400 140" preserveAspectRatio="none"></svg></div>
  </section>
  <table>
    <thead><tr><th>Route</th><th>Kind</th><th>Path</th><th>Enabled</th><th>Requests</th><th>Hit rate</th><th>p95 ms</th><th>HIT / MISS / STALE / REVAL / BYPASS</th></tr></thead>
    <tbody id="routes"></tbody>
  </table>
</main>
<script>
const refreshSeconds = Number(new URLSearchParams(location.search).get('refresh')) || 10;
const $ = (id) => document.getElementById(id);
const pct = (x) => (x * 100).toFixed(1) + ' %';
const size = (b) => (b >= 1048576 ? (b / 1048576).toFixed(1) + ' MiB' : (b / 1024).toFixed(1) + ' KiB');
function line(svg, series, colors, maxValue) {
  const w = 400, h = 140, pad = 4;
  const all = series.flat();
  const max = Math.max(maxValue ?? 0, ...all, 1e-9);
  const n = Math.max(...series.map((s) => s.length), 2);
  let out = '';
  for (let k = 1; k < 4; k++) out += '<line x1="0" x2="400" y1="' + (h * k) / 4 + '" y2="' + (h * k) / 4 + '" stroke="#26313b"/>';
  series.forEach((points, i) => {
    const coords = points.map((v, j) => (j * (w / (n - 1))).toFixed(1) + ',' + (h - pad - (v / max) * (h - 2 * pad)).toFixed(1));
    out += '<polyline fill="none" stroke-width="2" stroke="' + colors[i] + '" points="' + coords.join(' ') + '"/>';
  });
  out += '<text x="396" y="12" text-anchor="end" fill="#8b98a5" font-size="11">' + (max >= 100 ? max.toFixed(0) : max.toPrecision(3)) + '</text>';
  svg.innerHTML = out;
}
function rates(history) {
  const rows = [];
  let hit = 0;
  for (let i = 1; i < history.length; i++) {
    const a = history[i - 1], b = history[i], dt = (b.at - a.at) / 1000 || 1;
    const lookups = b.cacheLookups - a.cacheLookups;
    // An interval without lookups keeps the last hit rate rather than dropping to 0.
    if (lookups > 0) hit = ((b.cacheHits - a.cacheHits) / lookups) * 100;
    rows.push({ rate: (b.requests - a.requests) / dt, hit,
      p50: b.p50Ms, p95: b.p95Ms, p99: b.p99Ms, mem: b.memoryBytes / 1048576, budget: b.budgetBytes / 1048576, errors: (b.errors - a.errors) / dt });
  }
  return rows;
}
async function refresh() {
  try {
    const [status, history] = await Promise.all([fetch('/api/status').then((r) => r.json()), fetch('/api/status/history').then((r) => r.json())]);
    const rows = rates(history);
    const last = rows[rows.length - 1];
    $('meta').textContent = 'origin ' + status.origin.url + (status.origin.sample ? ' (sample)' : '') + ' · up ' + status.uptimeSeconds + ' s · updated ' + new Date(status.at).toLocaleTimeString();
    $('hit-rate').textContent = pct(status.http.hitRate);
    $('hit-rate-sub').textContent = 'cache lookups: ' + pct(status.cache.hitRate) + ' (L1 ' + pct(status.cache.l1HitRate) + ')';
    $('request-rate').textContent = last ? last.rate.toFixed(1) : '0.0';
    $('requests-total').textContent = status.http.requests + ' requests in all';
    $('latency').textContent = last ? last.p50.toFixed(1) + ' / ' + last.p95.toFixed(1) + ' / ' + last.p99.toFixed(1) : '–';
    const m = status.cache.memory;
    $('memory').textContent = pct(m.utilization);
    $('memory').className = 'value ' + (m.utilization < 0.7 ? 'ok' : m.utilization < 0.85 ? 'warn' : 'bad');
    $('memory-sub').textContent = size(m.bytes) + ' of ' + size(m.budgetBytes) + ' · ' + m.entries + ' entries';
    const errorRate = status.http.requests ? status.http.errors / status.http.requests : 0;
    $('errors').textContent = pct(errorRate);
    $('errors').className = 'value ' + (errorRate < 0.001 ? 'ok' : errorRate < 0.01 ? 'warn' : 'bad');
    $('errors-sub').textContent = status.http.errors + ' in all';
    const redis = status.cache.redis;
    $('redis').textContent = redis ? redis.state : 'L1 only';
    $('redis').className = 'value ' + (!redis || redis.state === 'ready' ? 'ok' : 'bad');
    $('redis-sub').textContent = redis ? 'breaker ' + redis.breaker + ' · bus lag p99 ' + redis.busLagP99Ms.toFixed(1) + ' ms' : 'no REDIS_URL';
    line($('chart-hit'), [rows.map((r) => r.hit)], ['#4fb3ff'], 100);
    line($('chart-rate'), [rows.map((r) => r.rate)], ['#4fb3ff']);
    line($('chart-latency'), [rows.map((r) => r.p50), rows.map((r) => r.p95), rows.map((r) => r.p99)], ['#3fb950', '#d29922', '#f85149']);
    line($('chart-memory'), [rows.map((r) => r.mem), rows.map((r) => r.budget)], ['#4fb3ff', '#8b98a5']);
    $('routes').innerHTML = status.routes.map((r) => '<tr><td>' + esc(r.route) + '</td><td>' + r.kind + '</td><td>' + esc(r.path) + '</td><td>' +
      (r.kind === 'read' ? '<span class="bar"><i style="width:' + r.enabledPercent + '%"></i></span> ' + r.enabledPercent + ' %' : '–') + '</td><td>' + r.requests +
      '</td><td>' + (r.kind === 'read' ? pct(r.hitRate) : '–') + '</td><td>' + r.latencyMs.p95.toFixed(1) + '</td><td>' +
      [r.outcomes.HIT, r.outcomes.MISS, r.outcomes.STALE, r.outcomes.REVALIDATED, r.outcomes.BYPASS].join(' / ') + '</td></tr>').join('');
  } catch (error) {
    $('meta').textContent = 'cannot reach the gateway: ' + error.message;
  }
}
function esc(text) { return String(text).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]); }
refresh();
setInterval(refresh, refreshSeconds * 1000);
</script>
</body>
</html>
`;
