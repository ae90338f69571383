/**
 * The anger curve of the conversation on screen (uPlot, chart.ts): level, phase, trend,
 * predicted crossing, cues, and the coaching hint with a suggested prepared answer for
 * the current coaching stage (a button that puts it in the reply box).
 */
import type { CannedAnswer } from '../../protocol/types';
import { clear, h } from '../../shared/dom';
import { suggestFor } from '../canned';
import { AngerChart } from '../chart';
import { getLang, t } from '../i18n';
import { fmtDuration, levelColor, type ConvVM } from '../model';

export interface CurveHooks {
  /** the conversation's prepared answers when loaded (null: none / not yet) */
  answers(c: ConvVM): CannedAnswer[] | null;
  insert(a: CannedAnswer): void;
  canWrite(c: ConvVM): boolean;
}

export class CurveView {
  readonly el: HTMLElement;
  private stats: HTMLElement;
  private coaching: HTMLElement;
  private chart: AngerChart;

  constructor(private hooks: CurveHooks) {
    const s = t();
    this.chart = new AngerChart(160, s.noAngerData);
    this.stats = h('div', { class: 'anger-stats', 'data-testid': 'anger-stats' });
    this.coaching = h('div', { class: 'coaching', 'data-testid': 'coaching' });
    this.el = h('section', { class: 'card', 'aria-label': s.angerCurve, 'data-testid': 'anger-card' }, h('h3', {}, s.angerCurve), this.stats, this.chart.el, this.coaching);
  }

  destroy(): void {
    this.chart.destroy();
  }

  render(c: ConvVM | undefined): void {
    const s = t();
    const { stats, coaching } = this;
    clear(stats);
    clear(coaching);
    const a = c?.anger;
    const width = this.el.clientWidth - 32;
    this.chart.update(a?.curve, width > 0 ? width : 300);
    if (!c) {
      stats.append(h('span', { class: 'muted' }, s.noConversationSelected));
      coaching.className = 'coaching';
      return;
    }
    if (!a) {
      stats.append(h('span', { class: 'big muted' }, '—'), h('span', { class: 'phase none', 'data-testid': 'anger-level' }, s.noData));
      coaching.className = 'coaching';
      coaching.append(h('div', { class: 'hint-title' }, s.coaching), h('p', {}, s.coachingHint.calm));
      this.suggestion(c, c.state === 'closed' ? 'closed' : 'calm');
      return;
    }
    const trend = a.trend || 0;
    stats.append(
      h('span', { class: 'big', style: `color:${levelColor(a.level)}`, 'data-testid': 'anger-level' }, String(Math.round(a.level))),
      h('span', { class: `phase ${a.phase}`, 'data-testid': 'anger-phase' }, s.phase[a.phase] ?? a.phase),
      h('span', { class: 'trend', title: s.pointsPerMinute }, `${trend > 0.5 ? '▲' : trend < -0.5 ? '▼' : '▬'} ${trend > 0 ? '+' : ''}${trend.toFixed(1)}/min`),
    );
    if (typeof a.etaS === 'number' && a.etaS >= 0 && a.level < 80) {
      stats.append(h('span', { class: 'eta', 'data-testid': 'anger-eta' }, s.crosses80(fmtDuration(a.etaS * 1000, getLang()))));
    }
    if (a.cues.length) stats.append(h('div', { class: 'cues' }, ...a.cues.slice(0, 6).map((cue) => h('span', { class: 'cue' }, cue))));
    coaching.className = 'coaching ' + a.phase;
    // The server's hint is in the conversation's language; ours is the fallback.
    coaching.append(h('div', { class: 'hint-title' }, s.coachingPhase(s.phase[a.phase] ?? a.phase)), h('p', {}, a.coaching || s.coachingHint[a.phase] || s.coachingHint.calm));
    this.suggestion(c, c.state === 'closed' ? 'closed' : a.coachingStage || a.phase);
  }

  /** "Suggested: <title>" for the first prepared answer of this stage, and the `/` hint. */
  private suggestion(c: ConvVM, stage: string): void {
    const s = t();
    const list = this.hooks.answers(c);
    if (!list || !this.hooks.canWrite(c)) return;
    const pick = suggestFor(list, stage);
    if (pick) {
      const b = h('button', { class: 'btn suggest', type: 'button', 'data-testid': 'canned-suggest', 'data-id': pick.id, title: pick.text }, s.suggested(pick.title || pick.id));
      b.addEventListener('click', () => this.hooks.insert(pick));
      this.coaching.append(b);
    }
    this.coaching.append(h('p', { class: 'slash-hint muted small' }, s.slashHint));
  }
}
