/**
 * The supervisors' reports (GET /api/v1/reports/summary, conversations.csv): a date range
 * (local dates, at most 93 days, checked before asking), a store (or all the user's
 * stores), Refresh and Download CSV; the figures, four uPlot charts and a sortable table
 * of the agents. What was asked and got lives in a ReportState that outlives the view
 * (a language switch rebuilds the view from it). The pure parts are in report.ts.
 */
import type { ReportSummary, StoreInfo } from '../../protocol/types';
import { h } from '../../shared/dom';
import { fetchReport, fetchReportCsv } from '../api';
import { getLang, locale, t } from '../i18n';
import {
  MAX_DAYS,
  NONE,
  angerChartData,
  barData,
  causeCounts,
  checkWindow,
  csatDistribution,
  csvFileName,
  dayChartData,
  dayLabel,
  daySeries,
  defaultDates,
  defaultDir,
  fmtAverage,
  fmtNumber,
  fmtSeconds,
  fmtSigned,
  normalizeSummary,
  reportQuery,
  sortAgents,
  type AgentSortKey,
  type SortDir,
} from '../report';
import { ReportChart } from '../report-chart';

export type ReportError =
  | { kind: 'invalid' }
  | { kind: 'reversed' }
  | { kind: 'too_long'; days: number }
  | { kind: 'forbidden' }
  | { kind: 'failed'; status: number; message?: string };

/** What the user asked for and what came back; kept by the app for the whole session. */
export class ReportState {
  from: string;
  to: string;
  /** '' = every store of the user */
  store = '';
  loading = false;
  error: ReportError | null = null;
  data: ReportSummary | null = null;
  /** the window and store `data` is for */
  shown: { fromDate: string; toDate: string; store: string; days: number } | null = null;
  sort: { key: AgentSortKey; dir: SortDir } = { key: 'deescalation', dir: 'desc' };
  csvBusy = false;
  csvError = false;
  /** bumped on every change: the view redraws only when it moved */
  version = 0;
  private seq = 0;

  constructor(
    private token: () => string,
    private onChange: () => void = () => {},
    now: Date = new Date(),
  ) {
    const d = defaultDates(now);
    this.from = d.from;
    this.to = d.to;
  }

  changed(): void {
    this.version++;
    this.onChange();
  }

  /** Checks the window; null (and the reason in `error`) when it must not be asked for. */
  private window() {
    const w = checkWindow(this.from, this.to, MAX_DAYS);
    if (!w.ok) {
      this.error = w.error === 'too_long' ? { kind: 'too_long', days: w.days ?? 0 } : { kind: w.error };
      this.changed();
      return null;
    }
    return w;
  }

  async refresh(): Promise<void> {
    const w = this.window();
    if (!w) return;
    const asked = { fromDate: this.from, toDate: this.to, store: this.store, days: w.days };
    const my = ++this.seq;
    this.loading = true;
    this.error = null;
    this.changed();
    const r = await fetchReport(this.token(), reportQuery(w.from, w.to, this.store || null));
    if (my !== this.seq) return; // a newer request is on its way
    this.loading = false;
    if (r.ok) {
      this.data = normalizeSummary(r.value);
      this.shown = asked;
    } else {
      this.error = r.status === 403 ? { kind: 'forbidden' } : { kind: 'failed', status: r.status, message: r.message };
    }
    this.changed();
  }

  /** Fetches the CSV with the Bearer header and hands it to `save` as a Blob with a file name. */
  async downloadCsv(save: (blob: Blob, name: string) => void): Promise<boolean> {
    const w = this.window();
    if (!w || this.csvBusy) return false;
    this.csvBusy = true;
    this.csvError = false;
    this.error = null;
    this.changed();
    const r = await fetchReportCsv(this.token(), reportQuery(w.from, w.to, this.store || null));
    this.csvBusy = false;
    if (r.ok) save(r.value, csvFileName(this.from, this.to, this.store || null));
    else this.csvError = true;
    this.changed();
    return r.ok;
  }

  setSort(key: AgentSortKey): void {
    this.sort = this.sort.key === key ? { key, dir: this.sort.dir === 'asc' ? 'desc' : 'asc' } : { key, dir: defaultDir(key) };
    this.changed();
  }
}

/** Saves a Blob as a file: an <a download> on an object URL, clicked. */
export function saveBlob(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: name, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 30000);
}

const COLORS = { conv: '#0f766e', esc: '#dc2626', peak: '#ea580c', closing: '#0284c7', causes: '#6366f1', deesc: '#16a34a' };

export class ReportsView {
  readonly el: HTMLElement;
  private fromInput: HTMLInputElement;
  private toInput: HTMLInputElement;
  private storeSel: HTMLSelectElement;
  private refreshBtn: HTMLButtonElement;
  private csvBtn: HTMLButtonElement;
  private message: HTMLElement;
  private period: HTMLElement;
  private figures: HTMLElement;
  private agents: HTMLElement;
  private charts: { perDay: ReportChart; causes: ReportChart; anger: ReportChart; deesc: ReportChart };
  private chartCards: HTMLElement[];
  private drawn = -1;
  private drawnWidth = -1;

  constructor(
    private state: ReportState,
    stores: StoreInfo[],
  ) {
    const s = t();
    const num = (v: number) => fmtNumber(v, locale(), 1);
    this.fromInput = h('input', { type: 'date', value: state.from, required: true, 'data-testid': 'report-from' });
    this.toInput = h('input', { type: 'date', value: state.to, required: true, 'data-testid': 'report-to' });
    this.fromInput.addEventListener('change', () => (state.from = this.fromInput.value));
    this.toInput.addEventListener('change', () => (state.to = this.toInput.value));
    this.storeSel = h(
      'select',
      { 'data-testid': 'report-store' },
      h('option', { value: '' }, s.allMyStores),
      ...stores.map((st) => h('option', { value: st.id }, st.name || st.id)),
    );
    this.storeSel.value = state.store;
    if (this.storeSel.value !== state.store) state.store = '';
    this.storeSel.addEventListener('change', () => (state.store = this.storeSel.value));
    this.refreshBtn = h('button', { class: 'btn primary', type: 'submit', 'data-testid': 'report-refresh' }, s.refresh);
    this.csvBtn = h('button', { class: 'btn', type: 'button', 'data-testid': 'report-csv' }, s.downloadCsv);
    this.csvBtn.addEventListener('click', () => void state.downloadCsv(saveBlob));
    const form = h(
      'form',
      { class: 'rp-form', 'data-testid': 'report-form' },
      h('label', {}, h('span', {}, s.reportFrom), this.fromInput),
      h('label', {}, h('span', {}, s.reportTo), this.toInput),
      h('label', {}, h('span', {}, s.reportStore), this.storeSel),
      this.refreshBtn,
      this.csvBtn,
    );
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      state.from = this.fromInput.value;
      state.to = this.toInput.value;
      state.store = this.storeSel.value;
      void state.refresh();
    });
    this.message = h('p', { class: 'rp-message', role: 'alert', 'data-testid': 'report-message', hidden: true });
    this.period = h('p', { class: 'rp-period muted', 'data-testid': 'report-period' });
    this.figures = h('div', { class: 'rp-figures', 'data-testid': 'report-figures' });
    this.agents = h('div', { class: 'rp-agents', 'data-testid': 'report-agents' });
    this.charts = {
      perDay: new ReportChart({
        testid: 'chart-days',
        emptyText: s.chartNoData,
        legend: true,
        integer: true,
        fmt: (v) => fmtNumber(v, locale(), 0),
        series: [
          { label: s.seriesConversations, color: COLORS.conv, kind: 'bar' },
          { label: s.seriesEscalations, color: COLORS.esc, kind: 'line' },
        ],
      }),
      causes: new ReportChart({ testid: 'chart-causes', emptyText: s.chartNoData, integer: true, fmt: (v) => fmtNumber(v, locale(), 0), series: [{ label: s.chartCauses, color: COLORS.causes, kind: 'bar' }] }),
      anger: new ReportChart({
        testid: 'chart-anger',
        emptyText: s.chartNoData,
        legend: true,
        yRange: [0, 100],
        fmt: num,
        series: [
          { label: s.seriesPeak, color: COLORS.peak, kind: 'line' },
          { label: s.seriesClosing, color: COLORS.closing, kind: 'line' },
        ],
      }),
      deesc: new ReportChart({ testid: 'chart-deesc', emptyText: s.chartNoData, fmt: (v) => fmtSigned(v, locale()), series: [{ label: s.colDeescalation, color: COLORS.deesc, kind: 'bar' }] }),
    };
    const chartCard = (title: string, chart: ReportChart, hint?: string) =>
      h('section', { class: 'card rp-chart', 'aria-label': title }, h('h3', { title: hint ?? null }, title), chart.el);
    this.chartCards = [
      chartCard(s.chartPerDay, this.charts.perDay),
      chartCard(s.chartCauses, this.charts.causes),
      chartCard(s.chartAngerDays, this.charts.anger),
      chartCard(s.chartDeescalation, this.charts.deesc, s.deescalationHint),
    ];
    this.el = h(
      'section',
      { class: 'reports-panel', role: 'tabpanel', id: 'panel-reports', 'aria-labelledby': 'tab-reports', 'data-testid': 'reports-panel' },
      h('div', { class: 'rp-head' }, h('h2', { id: 'reports-title' }, s.reportsTitle), form),
      this.message,
      this.period,
      this.figures,
      h('div', { class: 'rp-charts' }, ...this.chartCards),
      h('section', { class: 'card rp-agents-card', 'aria-labelledby': 'report-agents-title' }, h('h3', { id: 'report-agents-title' }, s.agentsTitle), this.agents),
    );
  }

  destroy(): void {
    for (const c of Object.values(this.charts)) c.destroy();
  }

  /** Redraws what changed since the last call (the state's version, or the width on a resize). */
  render(): void {
    const width = this.chartCards[0].clientWidth;
    if (this.drawn === this.state.version && Math.abs(this.drawnWidth - width) < 4) return;
    this.drawn = this.state.version;
    this.drawnWidth = width;
    const st = this.state;
    const s = t();
    this.refreshBtn.disabled = st.loading;
    this.csvBtn.disabled = st.csvBusy;
    this.csvBtn.textContent = st.csvBusy ? s.downloadingCsv : s.downloadCsv;
    this.el.setAttribute('aria-busy', String(st.loading));
    const msg = this.messageText();
    this.message.hidden = !msg;
    this.message.textContent = msg;
    this.message.className = 'rp-message' + (st.error || st.csvError ? ' error' : '');
    const d = st.data;
    if (!d || !st.shown) {
      this.period.textContent = st.loading ? s.loading : '';
      this.figures.replaceChildren();
      this.agents.replaceChildren();
      for (const c of this.chartCards) c.hidden = true;
      return;
    }
    for (const c of this.chartCards) c.hidden = false;
    this.period.textContent = this.periodText(st.shown) + (st.loading ? ' · ' + s.loading : '');
    this.renderFigures(d);
    this.renderCharts(d);
    this.renderAgents(d);
  }

  private messageText(): string {
    const s = t();
    const e = this.state.error;
    if (e) {
      switch (e.kind) {
        case 'invalid':
          return s.windowInvalid;
        case 'reversed':
          return s.windowReversed;
        case 'too_long':
          return s.windowTooLong(e.days, MAX_DAYS);
        case 'forbidden':
          return s.reportForbidden;
        case 'failed':
          return s.reportFailed + (e.message ? ` (${e.message})` : e.status ? ` (HTTP ${e.status})` : '');
      }
    }
    if (this.state.csvError) return s.csvFailed;
    if (this.state.data && this.state.data.conversations === 0 && !this.state.loading) return s.reportEmpty;
    return '';
  }

  private periodText(shown: NonNullable<ReportState['shown']>): string {
    const s = t();
    const fmt = (v: string) => {
      const [y, m, d] = v.split('-').map(Number);
      try {
        return new Date(y, m - 1, d).toLocaleDateString(locale(), { day: 'numeric', month: 'short', year: 'numeric' });
      } catch {
        return v;
      }
    };
    const store = shown.store ? Array.from(this.storeSel.options).find((o) => o.value === shown.store)?.textContent || shown.store : s.allMyStores;
    return `${s.reportPeriod(fmt(shown.fromDate), fmt(shown.toDate), shown.days)} · ${store}`;
  }

  private renderFigures(d: ReportSummary): void {
    const s = t();
    const lang = getLang();
    const loc = locale();
    const fig = (id: string, title: string, big: string, ...rest: (HTMLElement | string | null)[]) =>
      h('section', { class: 'card rp-fig', 'data-testid': id }, h('h3', {}, title), h('div', { class: 'rp-big', 'data-testid': id + '-value' }, big), ...rest);
    const small = (text: string, testid?: string) => h('div', { class: 'muted small', 'data-testid': testid ?? null }, text);
    const dist = csatDistribution(d.csat.scores);
    const distEl = h(
      'div',
      { class: 'rp-dist', 'data-testid': 'csat-dist' },
      ...[...dist].reverse().map((x) =>
        h(
          'div',
          { class: 'rp-dist-row', 'data-score': x.score },
          h('span', { class: 'rp-dist-label' }, s.starScore(x.score)),
          h('span', { class: 'rp-dist-bar' }, h('span', { style: `width:${Math.round(x.share * 100)}%` })),
          h('span', { class: 'rp-dist-count' }, String(x.count)),
        ),
      ),
    );
    this.figures.replaceChildren(
      fig('fig-conversations', s.figConversations, fmtNumber(d.conversations, loc, 0)),
      fig('fig-escalations', s.figEscalations, fmtNumber(d.escalations, loc, 0)),
      fig(
        'fig-first-response',
        s.figFirstResponse,
        fmtSeconds(d.first_response_s.median, lang),
        small(s.median),
        small(s.p90(fmtSeconds(d.first_response_s.p90, lang)), 'fig-first-response-p90'),
        small(s.nMeasured(d.first_response_s.count ?? 0)),
      ),
      h(
        'section',
        { class: 'card rp-fig rp-csat', 'data-testid': 'fig-csat' },
        h('h3', {}, s.figCsat),
        h(
          'div',
          { class: 'rp-csat-row' },
          h(
            'div',
            {},
            h('div', { class: 'rp-big', 'data-testid': 'fig-csat-value' }, fmtAverage(d.csat.average, loc)),
            small(d.csat.average == null ? s.nRatings(d.csat.count) : `${s.csatOf5} · ${s.nRatings(d.csat.count)}`, 'fig-csat-count'),
          ),
          distEl,
        ),
      ),
      h(
        'section',
        { class: 'card rp-fig', 'data-testid': 'fig-anger' },
        h('h3', {}, s.figAnger),
        h(
          'div',
          { class: 'rp-pair' },
          h('div', {}, h('div', { class: 'rp-big', 'data-testid': 'fig-anger-peak' }, fmtNumber(d.anger.peak_median, loc, 1)), small(s.angerPeakMedian)),
          h('div', {}, h('div', { class: 'rp-big', 'data-testid': 'fig-anger-closing' }, fmtNumber(d.anger.closing_median, loc, 1)), small(s.angerClosingMedian)),
        ),
      ),
    );
  }

  private renderCharts(d: ReportSummary): void {
    const s = t();
    const loc = locale();
    // Card width less its padding: the charts fill their card.
    const width = Math.max(240, (this.chartCards[0].clientWidth || 560) - 34);
    const series = daySeries(d.days, d.from, d.to);
    const dayLabels = series.days.map((x) => dayLabel(x, loc));
    const none = d.conversations === 0;
    this.charts.perDay.update(dayChartData(series), dayLabels, width, none);
    const causes = causeCounts(d.categories);
    const anyCause = causes.some((c) => c.count > 0);
    this.charts.causes.update(
      barData(causes.map((c) => c.count)),
      causes.map((c) => s.causeName[c.cause] ?? c.cause),
      width,
      !anyCause,
    );
    const anyAnger = series.peak.some((v) => v != null) || series.closing.some((v) => v != null);
    this.charts.anger.update(angerChartData(series), dayLabels, width, !anyAnger);
    const byDeesc = sortAgents(d.agents, 'deescalation', 'desc').slice(0, 20);
    this.charts.deesc.update(
      barData(byDeesc.map((a) => a.deescalation)),
      byDeesc.map((a) => a.name || a.id),
      width,
      !byDeesc.some((a) => a.deescalation != null),
    );
  }

  private renderAgents(d: ReportSummary): void {
    const s = t();
    const lang = getLang();
    const loc = locale();
    const st = this.state;
    if (!d.agents.length) {
      this.agents.replaceChildren(h('p', { class: 'muted', 'data-testid': 'report-no-agents' }, s.noAgents));
      return;
    }
    const focused = (document.activeElement as HTMLElement | null)?.dataset?.sort;
    const cols: { key: AgentSortKey; label: string; num: boolean; title?: string }[] = [
      { key: 'name', label: s.colAgent, num: false },
      { key: 'conversations', label: s.colConversations, num: true },
      { key: 'first_response_s_median', label: s.colFirstResponse, num: true },
      { key: 'deescalation', label: s.colDeescalation, num: true, title: s.deescalationHint },
      { key: 'csat_average', label: s.colCsatAvg, num: true },
    ];
    const head = h(
      'tr',
      {},
      ...cols.map((c) => {
        const on = st.sort.key === c.key;
        const b = h('button', { class: 'sort-btn', type: 'button', 'data-sort': c.key, 'data-testid': 'sort-' + c.key, title: c.title ?? s.sortBy(c.label) }, c.label, h('span', { class: 'sort-mark', 'aria-hidden': 'true' }, on ? (st.sort.dir === 'asc' ? ' ▲' : ' ▼') : ''));
        b.addEventListener('click', () => st.setSort(c.key));
        return h('th', { scope: 'col', class: c.num ? 'num' : '', 'aria-sort': on ? (st.sort.dir === 'asc' ? 'ascending' : 'descending') : 'none' }, b);
      }),
    );
    const rows = sortAgents(d.agents, st.sort.key, st.sort.dir).map((a) =>
      h(
        'tr',
        { 'data-testid': 'report-agent', 'data-agent': a.id },
        h('td', {}, h('strong', {}, a.name || a.id)),
        h('td', { class: 'num' }, fmtNumber(a.conversations, loc, 0)),
        h('td', { class: 'num' }, fmtSeconds(a.first_response_s_median, lang)),
        h('td', { class: 'num ' + (a.deescalation == null ? '' : a.deescalation > 0 ? 'good' : a.deescalation < 0 ? 'bad' : '') }, a.deescalation == null ? NONE : s.points(fmtSigned(a.deescalation, loc))),
        h('td', { class: 'num' }, fmtAverage(a.csat_average, loc), a.csat_count ? h('span', { class: 'muted small' }, ` (${a.csat_count})`) : null),
      ),
    );
    this.agents.replaceChildren(h('table', { class: 'rp-table', 'aria-labelledby': 'report-agents-title', 'data-testid': 'report-agents-table' }, h('thead', {}, head), h('tbody', {}, ...rows)));
    if (focused) this.agents.querySelector<HTMLElement>(`[data-sort="${focused}"]`)?.focus();
  }
}
