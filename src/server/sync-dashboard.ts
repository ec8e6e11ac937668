/**
 * `keel sync serve`'s live dashboard, `/dashboard`: one self-contained page, drawn on the server
 * and reloaded every `refresh` seconds (10 by default, `?refresh=2` to change), with no script at
 * all, so it works offline, behind a strict CSP and in a screenshot.
 *
 * It shows the sync's state (system, runner, circuit, emergency stop, an open split's progress),
 * the sync's rows of the thresholds table with the level each has reached (the same as `keel
 * status --sync-url` and the alerts), the latest runs, and with a rollout (KEEL_SYNC_FLAG) its
 * active and last rollouts: stage, switches, and the guards' last values. Every text from the
 * database or the rollout store is escaped.
 */
import { type JudgedRow, judgeRow, THRESHOLDS } from '../observability/index.js';
import { type SyncFigures, syncRowValues } from '../observability/sync-metrics.js';
import type { RunRecord, SyncState } from '../sync/index.js';
import { escapeHtml } from '../util/html.js';
import type { RolloutPanel } from './dashboard.js';

const LEVEL_COLOURS: Record<JudgedRow['level'], string> = {
  critical: '#8b0000',
  high: '#d62728',
  medium: '#ff7f0e',
  low: '#bcbd22',
  ok: '#2ca02c',
  'n/a': '#888',
};

export interface SyncDashboardState {
  state: SyncState;
  figures: SyncFigures;
  runs: RunRecord[];
  rollouts: RolloutPanel | undefined;
  refreshSeconds: number;
}

export function syncDashboardHtml(view: SyncDashboardState): string {
  const { state } = view;
  const values = syncRowValues(view.figures);
  const rows = THRESHOLDS.filter((row) => row.name in values).map((row) => judgeRow(row, values[row.name]));
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="${view.refreshSeconds}">
<title>Keel — listing sync ${escapeHtml(state.syncName)}</title>
<style>
body{font:14px system-ui,sans-serif;margin:24px;color:#222}h1{font-size:20px}h2{font-size:16px;margin-top:28px}
table{border-collapse:collapse}td,th{padding:4px 10px;border-bottom:1px solid #ddd;text-align:left}
.level{color:#fff;border-radius:3px;padding:1px 6px}.stop{background:#8b0000;color:#fff;padding:8px}
.muted{color:#888}
</style></head><body>
<h1>Listing sync <code>${escapeHtml(state.syncName)}</code> — system ${escapeHtml(state.system)}</h1>
${stateLine(view)}
<h2>Against the thresholds</h2>
<table><tr><th>watched</th><th>value</th><th>target</th><th>level</th></tr>
${rows.map(judgedRow).join('\n')}
</table>
<h2>Latest runs</h2>
${runsTable(view.runs)}
${view.rollouts === undefined ? '' : rolloutsSection(view.rollouts)}
<p class="muted">listings in the table: ${view.figures.tableRows} · open dead letters: ${view.figures.deadLetters} · reloads every ${view.refreshSeconds} s</p>
</body></html>
`;
}

function stateLine(view: SyncDashboardState): string {
  const { state, figures } = view;
  const parts = [
    `runner: <b>${escapeHtml(state.state)}</b>`,
    `source circuit: <b>${figures.breakerOpen ? 'open (paused)' : 'closed'}</b>`,
  ];
  if (state.split !== null)
    parts.push(`split ${state.split.id}: ${state.split.done} of ${state.split.ranges} ranges done`);
  const stop = state.emergencyStop.set
    ? `<p class="stop">EMERGENCY STOP set by ${escapeHtml(state.emergencyStop.by ?? 'unknown')}: ${escapeHtml(state.emergencyStop.reason ?? '')}</p>`
    : '';
  return `${stop}<p>${parts.join(' · ')}</p>`;
}

function judgedRow(row: JudgedRow): string {
  return `<tr><td>${escapeHtml(row.title)}</td><td>${escapeHtml(row.value)}</td><td>${escapeHtml(row.target)}</td><td><span class="level" style="background:${LEVEL_COLOURS[row.level]}">${row.level}</span></td></tr>`;
}

function runsTable(runs: RunRecord[]): string {
  if (runs.length === 0) return '<p class="muted">no runs yet</p>';
  const head =
    '<tr><th>run</th><th>system</th><th>status</th><th>started</th><th>seconds</th><th>read</th><th>inserted</th><th>updated</th><th>unchanged</th><th>dead-lettered</th><th>skipped</th></tr>';
  const lines = runs.map(
    (run) =>
      `<tr><td>${run.id}</td><td>${escapeHtml(run.system)}</td><td>${escapeHtml(run.status)}</td><td>${escapeHtml(run.startedAt)}</td><td>${run.durationMs === null ? '–' : (run.durationMs / 1000).toFixed(2)}</td><td>${run.rowsRead}</td><td>${run.inserted}</td><td>${run.updated}</td><td>${run.unchanged}</td><td>${run.deadLettered}</td><td>${run.skipped}</td></tr>`,
  );
  return `<table>${head}\n${lines.join('\n')}</table>`;
}

function rolloutsSection(panel: RolloutPanel): string {
  const stop =
    panel.emergencyStop === null
      ? ''
      : `<p class="stop">ROLLOUT EMERGENCY STOP by ${escapeHtml(panel.emergencyStop.actor)}: ${escapeHtml(panel.emergencyStop.reason)}</p>`;
  const cards = panel.rollouts.map((card) => {
    const stage =
      card.stage === null
        ? ''
        : ` — stage ${card.stage.index + 1} of ${card.stages.length}: ${escapeHtml(card.stage.name)}`;
    const switches = card.switches.map((s) => `${escapeHtml(s.key)} ${s.weight ?? '–'} %`).join(', ');
    const triggers = card.triggers
      .map(
        (trigger) =>
          `<li>${escapeHtml(trigger.text)} (${trigger.severity}): ${trigger.value === null ? '–' : Number(trigger.value.toPrecision(3))} ${trigger.state ?? ''}</li>`,
      )
      .join('');
    return `<h3>${escapeHtml(card.id)} (${escapeHtml(card.plan)}): ${escapeHtml(card.status)}${stage}</h3><p>${switches}</p><ul>${triggers}</ul>`;
  });
  const none =
    panel.unavailable === undefined
      ? '<p class="muted">no rollout</p>'
      : `<p class="stop">${escapeHtml(panel.unavailable)}</p>`;
  return `<h2>Rollouts</h2>${stop}${cards.length === 0 ? none : cards.join('\n')}`;
}
