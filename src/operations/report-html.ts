/**
 * The HTML report of `keel analyze --report`: one self-contained page (inline SVG charts, no
 * scripts) with the figures, four charts over the collected period, the routes, and the
 * recommendations — to attach to a deployment's record.
 */
import { escapeHtml } from '../util/html.js';
import type { Analysis, SeriesPoint } from './analyze.js';

const WIDTH = 560;
const HEIGHT = 160;

function chart(
  title: string,
  points: SeriesPoint[],
  lines: { pick: (p: SeriesPoint) => number | undefined; colour: string; label: string }[],
  unit: string,
): string {
  const values = points.flatMap((point) =>
    lines.map((line) => line.pick(point)).filter((v): v is number => v !== undefined && Number.isFinite(v)),
  );
  const max = Math.max(1e-9, ...values);
  const x = (i: number) => (points.length < 2 ? 0 : (i / (points.length - 1)) * WIDTH);
  const y = (v: number) => HEIGHT - 4 - (v / max) * (HEIGHT - 8);
  const polylines = lines
    .map((line) => {
      const coords = points.flatMap((point, i) => {
        const v = line.pick(point);
        return v === undefined || !Number.isFinite(v) ? [] : [`${x(i).toFixed(1)},${y(v).toFixed(1)}`];
      });
      return `<polyline fill="none" stroke="${line.colour}" stroke-width="2" points="${coords.join(' ')}"/>`;
    })
    .join('');
  const legend = lines
    .map((line) => `<span style="color:${line.colour}">■</span> ${escapeHtml(line.label)}`)
    .join(' ');
  return `<figure><figcaption>${escapeHtml(title)} <small>(max ${max.toPrecision(3)} ${unit}) ${legend}</small></figcaption>
<svg viewBox="0 0 ${WIDTH} ${HEIGHT}" width="${WIDTH}" height="${HEIGHT}" role="img" aria-label="${escapeHtml(title)}"><rect width="${WIDTH}" height="${HEIGHT}" fill="#f6f8fa"/>${polylines}</svg></figure>`;
}

export function reportHtml(analysis: Analysis): string {
  const { status, series } = analysis;
  const pct = (share: number) => `${(share * 100).toFixed(1)} %`;
  const figures: [string, string][] = [
    ['Requests', String(status.http.requests)],
    ['Hit rate', pct(status.http.hitRate)],
    ['Error rate (5xx)', status.http.requests === 0 ? '–' : pct(status.http.errors / status.http.requests)],
    [
      'Latency p50 / p95 / p99',
      `${status.http.latencyMs.p50.toFixed(1)} / ${status.http.latencyMs.p95.toFixed(1)} / ${status.http.latencyMs.p99.toFixed(1)} ms`,
    ],
    [
      'L1 memory',
      `${(status.cache.memory.bytes / 1048576).toFixed(1)} of ${(status.cache.memory.budgetBytes / 1048576).toFixed(1)} MiB (${pct(status.cache.memory.utilization)})`,
    ],
    [
      'Redis',
      status.cache.redis === null
        ? 'not configured (L1 only)'
        : `${status.cache.redis.state}, breaker ${status.cache.redis.breaker}`,
    ],
    ['Uptime', `${status.uptimeSeconds} s`],
  ];
  const routes = status.routes
    .map(
      (route) =>
        `<tr><td>${escapeHtml(route.route)}</td><td>${route.kind}</td><td><code>${escapeHtml(route.path)}</code></td><td>${route.kind === 'read' ? `${route.enabledPercent} %` : '–'}</td><td>${route.requests}</td><td>${route.kind === 'read' ? pct(route.hitRate) : '–'}</td><td>${route.latencyMs.p95.toFixed(1)}</td><td>${route.outcomes.HIT} / ${route.outcomes.MISS} / ${route.outcomes.STALE} / ${route.outcomes.REVALIDATED} / ${route.outcomes.BYPASS}</td></tr>`,
    )
    .join('\n');
  const advice = analysis.recommendations
    .map((item) => `<li class="${item.severity}"><b>${item.topic}</b> — ${escapeHtml(item.text)}</li>`)
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Keel cache analysis</title>
<style>body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#1f2328;max-width:1180px}h1{font-size:20px}table{border-collapse:collapse;margin:8px 0 20px}td,th{border-bottom:1px solid #d0d7de;padding:5px 10px;text-align:left}th{color:#57606a;font-weight:500}figure{display:inline-block;margin:0 16px 16px 0}figcaption{font-size:13px;margin-bottom:4px}li{margin:4px 0}li.action b{color:#cf222e}li.consider b{color:#9a6700}li.info b{color:#1a7f37}</style></head>
<body><h1>Keel cache analysis</h1>
<p>Collected ${escapeHtml(analysis.collectedAt)} from ${escapeHtml(analysis.source)}; origin ${escapeHtml(status.origin.url)}${status.origin.sample ? ' (sample)' : ''}; ${series.length} intervals.</p>
<table>${figures.map(([name, value]) => `<tr><th>${name}</th><td>${escapeHtml(value)}</td></tr>`).join('')}</table>
<h2>Recommendations</h2><ul>${advice}</ul>
<h2>Over the period</h2>
${chart('Requests per second', series, [{ pick: (p) => p.requestsPerSecond, colour: '#0969da', label: 'req/s' }], 'req/s')}
${chart('Hit rate', series, [{ pick: (p) => (p.hitRate === undefined ? undefined : p.hitRate * 100), colour: '#1a7f37', label: 'hit rate %' }], '%')}
${chart('Latency p95', series, [{ pick: (p) => p.p95Ms, colour: '#bc4c00', label: 'p95 ms' }], 'ms')}
${chart(
  'L1 memory',
  series,
  [
    { pick: (p) => p.memoryBytes / 1048576, colour: '#0969da', label: 'used MiB' },
    { pick: (p) => p.budgetBytes / 1048576, colour: '#8c959f', label: 'budget MiB' },
  ],
  'MiB',
)}
<h2>Routes</h2>
<table><tr><th>Route</th><th>Kind</th><th>Path</th><th>Enabled</th><th>Requests</th><th>Hit rate</th><th>p95 ms</th><th>HIT / MISS / STALE / REVAL / BYPASS</th></tr>
${routes}</table>
</body></html>
`;
}
