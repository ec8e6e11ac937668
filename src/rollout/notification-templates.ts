/**
 * The notifications of a rollout — it started, it moved to a new stage, a guard or an operator
 * paused it, an operator acknowledged a pause, resumed it, stopped it or set the emergency stop, it
 * was rolled back, it completed — as a subject and a text for a chat channel, filled with the
 * figures of the moment
 * (the weights, the guards' values, the reason). English by default; `ja` gives the Japanese
 * wording operators of the original deployment procedures know (【重要】…デプロイ開始, 【進捗】…移行完了,
 * 【緊急】…ロールバック実施, 【完了】…完全移行).
 */
import { formatDuration } from '../util/duration.js';
import type { SwitchKey } from './state.js';

export type NotificationKind =
  | 'start'
  | 'stage'
  | 'pause'
  | 'acknowledge'
  | 'resume'
  | 'stop'
  | 'emergency-stop'
  | 'rollback'
  | 'complete';
export type Locale = 'en' | 'ja';

export interface NotificationFacts {
  rollout: string;
  plan: string;
  at: number;
  startedAt: number;
  /** The stage now in force (for a rollback: the stage that was rolled back). */
  stage: { index: number; name: string; total: number };
  switches: Record<SwitchKey, number>;
  /** Guard values of the moment, by metric name. */
  metrics: Record<string, number>;
  /** Who or what decided (`guard:<trigger>`, `operator:<name>`). */
  actor: string;
  reason: string;
  /** The next stage's name, for a stage change. */
  next?: string;
}

export interface RenderedNotification {
  subject: string;
  text: string;
}

export function renderNotification(
  kind: NotificationKind,
  facts: NotificationFacts,
  locale: Locale = 'en',
): RenderedNotification {
  const subject = SUBJECTS[locale][kind].replace('{plan}', facts.plan).replace('{stage}', facts.stage.name);
  const lines = [
    ...BODIES[locale][kind](facts),
    '',
    `${LABELS[locale].switches}: ${formatSwitches(facts.switches)}`,
    `${LABELS[locale].metrics}: ${formatMetrics(facts.metrics)}`,
    `${LABELS[locale].decidedBy}: ${facts.actor} (${facts.reason})`,
    `${LABELS[locale].at}: ${new Date(facts.at).toISOString()} · ${facts.rollout}`,
  ];
  return { subject, text: lines.join('\n') };
}

const SUBJECTS: Record<Locale, Record<NotificationKind, string>> = {
  en: {
    start: '[Rollout] {plan}: started',
    stage: '[Rollout] {plan}: now at stage {stage}',
    pause: '[Attention] {plan}: paused at stage {stage}',
    acknowledge: '[Rollout] {plan}: pause acknowledged at stage {stage}',
    resume: '[Rollout] {plan}: resumed at stage {stage}',
    stop: '[Attention] {plan}: stopped at stage {stage}',
    'emergency-stop': '[URGENT] {plan}: emergency stop',
    rollback: '[URGENT] {plan}: rolled back',
    complete: '[Done] {plan}: complete',
  },
  ja: {
    start: '【重要】{plan} - 新バージョンデプロイ開始',
    stage: '【進捗】{plan} - {stage} 移行完了',
    pause: '【警告】{plan} - {stage} で一時停止',
    acknowledge: '【確認】{plan} - {stage} の一時停止を確認',
    resume: '【再開】{plan} - {stage} から再開',
    stop: '【停止】{plan} - {stage} で停止',
    'emergency-stop': '【緊急】{plan} - 緊急停止',
    rollback: '【緊急】{plan} - ロールバック実施',
    complete: '【完了】{plan} - 新バージョン完全移行',
  },
};

const LABELS: Record<Locale, Record<'switches' | 'metrics' | 'decidedBy' | 'at', string>> = {
  en: { switches: 'Weights', metrics: 'Guards', decidedBy: 'Decided by', at: 'At' },
  ja: { switches: '現在のトラフィック配分', metrics: '監視値', decidedBy: '判断', at: '日時' },
};

type Body = (facts: NotificationFacts) => string[];

const BODIES: Record<Locale, Record<NotificationKind, Body>> = {
  en: {
    start: (f) => [`Rollout ${f.rollout} of plan ${f.plan} has started: ${f.stage.total} stages.`],
    stage: (f) => [
      `Stage ${f.stage.index + 1} of ${f.stage.total} (${f.stage.name}) is in force.`,
      f.next === undefined ? 'This is the last stage.' : `Next: ${f.next}, once its criteria hold.`,
    ],
    pause: (f) => [
      `Paused at stage ${f.stage.index + 1} of ${f.stage.total} (${f.stage.name}): ${f.reason}.`,
      byOperator(f)
        ? 'Nothing promotes until an operator resumes (keel rollout resume); the guards still watch.'
        : 'Nothing promotes until an operator resumes. Unless acknowledged (keel rollout ack), it rolls back at its deadline.',
    ],
    acknowledge: (f) => [
      `${f.actor} acknowledged the pause at stage ${f.stage.index + 1} of ${f.stage.total} (${f.stage.name}): it will not roll back at its deadline.`,
      'It stays paused until an operator resumes, promotes or rolls back; a critical trigger still rolls it back.',
    ],
    resume: (f) => [
      `Resumed at stage ${f.stage.index + 1} of ${f.stage.total} (${f.stage.name}): the stage starts over, its criteria judged from now.`,
    ],
    stop: (f) => [
      `Stopped at stage ${f.stage.index + 1} of ${f.stage.total} (${f.stage.name}): ${f.reason}.`,
      'The switches are at their safe weights; the rollout is over.',
    ],
    'emergency-stop': (f) => [
      `Emergency stop at stage ${f.stage.index + 1} of ${f.stage.total} (${f.stage.name}): ${f.reason}.`,
      'Every switch is at its safe weight on every instance; nothing promotes until it is cleared (keel rollout emergency-stop --clear).',
    ],
    rollback: (f) => [
      `Rolled back at stage ${f.stage.index + 1} of ${f.stage.total} (${f.stage.name}).`,
      'The switches are back at their safe weights; nothing promotes until an operator starts again.',
    ],
    complete: (f) => [
      `All ${f.stage.total} stages passed in ${formatDuration(f.at - f.startedAt)}: the change is fully rolled out.`,
    ],
  },
  ja: {
    start: (f) => [`${f.plan} の段階的ロールアウトを開始しました（全 ${f.stage.total} 段階）。`],
    stage: (f) => [
      `${f.stage.name}（${f.stage.index + 1}/${f.stage.total}）への移行が完了しました。`,
      f.next === undefined
        ? '最終段階です。'
        : `次のステップ: 成功基準を満たした後、${f.next} へ移行します。`,
    ],
    pause: (f) => [
      `${f.stage.name}（${f.stage.index + 1}/${f.stage.total}）で一時停止しました: ${f.reason}`,
      byOperator(f)
        ? '再開（keel rollout resume）まで段階は進みません。監視は続きます。'
        : '再開はオペレーターの判断で行います。確認（keel rollout ack）がなければ期限にロールバックします。',
    ],
    acknowledge: (f) => [
      `${f.actor} が ${f.stage.name}（${f.stage.index + 1}/${f.stage.total}）の一時停止を確認しました。期限によるロールバックは行いません。`,
      '再開・昇格・ロールバックはオペレーターの判断で行います（重大なトリガーは引き続きロールバックします）。',
    ],
    resume: (f) => [
      `${f.stage.name}（${f.stage.index + 1}/${f.stage.total}）から再開しました。成功基準はこれから判定します。`,
    ],
    stop: (f) => [
      `${f.stage.name}（${f.stage.index + 1}/${f.stage.total}）で停止しました: ${f.reason}`,
      'すべてのスイッチを安全な値に戻し、ロールアウトを終了しました。',
    ],
    'emergency-stop': (f) => [
      `${f.stage.name}（${f.stage.index + 1}/${f.stage.total}）で緊急停止しました: ${f.reason}`,
      'すべてのスイッチを安全な値に戻しました。解除（keel rollout emergency-stop --clear）まで段階は進みません。',
    ],
    rollback: (f) => [
      `問題が発生したため、${f.stage.name}（${f.stage.index + 1}/${f.stage.total}）でロールバックを実施しました。`,
      '旧システムに切り戻し完了。再開はオペレーターの判断で行います。',
    ],
    complete: (f) => [
      `新バージョンへの完全移行が完了しました（デプロイ期間: ${formatDuration(f.at - f.startedAt)}）。`,
    ],
  },
};

function byOperator(facts: NotificationFacts): boolean {
  return facts.actor.startsWith('operator:');
}

function formatSwitches(switches: Record<SwitchKey, number>): string {
  const entries = Object.entries(switches);
  return entries.length === 0 ? '–' : entries.map(([key, weight]) => `${key} ${weight} %`).join(', ');
}

function formatMetrics(metrics: Record<string, number>): string {
  const entries = Object.entries(metrics);
  return entries.length === 0
    ? '–'
    : entries.map(([name, value]) => `${name} ${Number(value.toPrecision(4))}`).join(', ');
}
