/**
 * The reply box, with the prepared-answers picker: typing `/` at the start or after a
 * space opens a listbox of answers filtered by the words after the slash; ArrowUp /
 * ArrowDown move, Enter or Tab insert (placeholders filled), Escape closes. The picker
 * only ever fills the box: the agent sends (Enter) when ready. The logic is in canned.ts.
 */
import type { CannedAnswer } from '../../protocol/types';
import { h } from '../../shared/dom';
import {
  fillPlaceholders,
  filterCanned,
  insertAnswer,
  insertAtSelection,
  pickerKey,
  pickerWanted,
  slashToken,
  type CannedEntry,
  type PickerState,
  type PlaceholderValues,
  type SlashToken,
} from '../canned';
import { t } from '../i18n';
import type { ConvVM } from '../model';

export interface ComposerHooks {
  send(text: string): void;
  typing(): void;
  /** the answers for this conversation (starts the fetch); null when it has no store yet */
  canned(c: ConvVM): CannedEntry | null;
  placeholders(c: ConvVM): PlaceholderValues;
}

const LISTBOX_ID = 'canned-listbox';

export class ComposerView {
  readonly el: HTMLFormElement;
  readonly input: HTMLTextAreaElement;
  readonly sendBtn: HTMLButtonElement;
  readonly note: HTMLElement;
  private pickerEl: HTMLElement;
  private pickerHead: HTMLElement;
  private listbox: HTMLElement;
  private state: PickerState = { open: false, index: 0 };
  private token: SlashToken | null = null;
  private matches: CannedAnswer[] = [];
  private loading = false;
  /** start of the `/query` the user closed with Escape: stays closed while it is typed */
  private dismissed: number | null = null;
  private conv: ConvVM | null = null;
  private lastQuery: string | null = null;

  constructor(private hooks: ComposerHooks) {
    const s = t();
    this.input = h('textarea', {
      rows: 2,
      placeholder: s.replyPlaceholder,
      'aria-label': s.reply,
      'aria-autocomplete': 'list',
      'aria-controls': LISTBOX_ID,
      'data-testid': 'reply',
    });
    this.sendBtn = h('button', { class: 'btn primary', type: 'submit', 'data-testid': 'send' }, s.send);
    this.note = h('div', { class: 'composer-note' });
    this.pickerHead = h('div', { class: 'picker-head', role: 'status', 'aria-live': 'polite' });
    this.listbox = h('ul', { class: 'picker-list', role: 'listbox', id: LISTBOX_ID, 'aria-label': s.canned, 'data-testid': 'canned-list' });
    this.pickerEl = h('div', { class: 'picker', hidden: true, 'data-testid': 'canned-picker' }, this.pickerHead, this.listbox, h('div', { class: 'picker-help', 'aria-hidden': 'true' }, s.cannedHelp));
    this.el = h('form', { class: 'composer' }, this.note, h('div', { class: 'composer-row' }, h('div', { class: 'reply-wrap' }, this.pickerEl, this.input), this.sendBtn));

    this.el.addEventListener('submit', (e) => {
      e.preventDefault();
      this.submit();
    });
    this.input.addEventListener('keydown', (e) => this.onKey(e));
    this.input.addEventListener('input', () => {
      this.refresh();
      this.hooks.typing();
    });
    // The caret moved: the `/query` at the caret may be another one (or none).
    this.input.addEventListener('click', () => this.refresh());
    this.input.addEventListener('keyup', (e) => {
      if (['ArrowLeft', 'ArrowRight', 'Home', 'End'].includes(e.key)) this.refresh();
    });
    this.input.addEventListener('blur', () => this.close());
  }

  /** Called on every render with the conversation on screen. */
  render(c: ConvVM | null): void {
    if (c?.id !== this.conv?.id) {
      this.conv = c;
      this.close();
      return;
    }
    this.conv = c;
    if (this.state.open) this.refresh(); // answers may have arrived meanwhile
  }

  get pickerOpen(): boolean {
    return this.state.open;
  }

  private submit(): void {
    if (this.state.open) return; // the picker never sends
    const text = this.input.value.trim();
    if (text) this.hooks.send(text);
  }

  private onKey(e: KeyboardEvent): void {
    if (e.isComposing) return;
    const r = pickerKey(this.state, this.matches.length, e.key);
    if (r.handled) {
      e.preventDefault();
      e.stopPropagation();
      const chosen = this.matches[this.state.index];
      this.state = r.state;
      if (r.action === 'insert' && chosen) this.insert(chosen);
      else if (r.action === 'close') {
        this.dismissed = this.token?.start ?? null;
        this.close();
      } else this.draw();
      return;
    }
    if (e.key === 'Enter' && !e.shiftKey) {
      e.preventDefault();
      this.submit();
    }
  }

  /** Recompute the `/query` at the caret and what matches it. */
  private refresh(): void {
    const c = this.conv;
    if (!c || this.input.disabled) return this.close();
    const token = slashToken(this.input.value, this.input.selectionStart ?? this.input.value.length);
    if (!token || token.start !== this.dismissed) this.dismissed = null;
    if (!token || this.dismissed !== null) return this.close();
    const entry = this.hooks.canned(c);
    if (!entry) return this.close(); // no store known yet: nothing to list
    this.loading = entry?.status === 'loading';
    const all = entry?.status === 'ready' ? entry.list : [];
    const s = t();
    this.matches = filterCanned(all, token.query, (cat) => s.category[cat]);
    const open = this.loading || entry?.status === 'error' || pickerWanted(token, this.matches.length);
    if (!open) return this.close();
    if (token.query !== this.lastQuery) this.state = { open: true, index: 0 };
    else this.state = { open: true, index: Math.min(this.state.index, Math.max(0, this.matches.length - 1)) };
    this.lastQuery = token.query;
    this.token = token;
    this.pickerHead.textContent = this.loading ? s.cannedLoading : entry?.status === 'error' ? s.cannedFailed : this.matches.length ? `${s.canned} · ${s.cannedCount(this.matches.length)}` : s.cannedNone;
    this.draw();
  }

  private draw(): void {
    const open = this.state.open;
    this.pickerEl.hidden = !open;
    if (!open) {
      this.input.removeAttribute('aria-activedescendant');
      return;
    }
    const s = t();
    this.listbox.replaceChildren(
      ...this.matches.slice(0, 50).map((a, i) => {
        const li = h(
          'li',
          { role: 'option', id: `canned-opt-${i}`, class: 'picker-opt' + (i === this.state.index ? ' active' : ''), 'aria-selected': String(i === this.state.index), 'data-testid': 'canned-option', 'data-id': a.id },
          h('span', { class: 'opt-title' }, a.title || a.id),
          a.category ? h('span', { class: 'opt-cat' }, s.category[a.category] ?? a.category) : null,
          h('span', { class: 'opt-text' }, this.conv ? fillPlaceholders(a.text, this.hooks.placeholders(this.conv)) : a.text),
        );
        // Keep the focus in the textarea; a click inserts like Enter.
        li.addEventListener('mousedown', (e) => {
          e.preventDefault();
          this.insert(a);
        });
        return li;
      }),
    );
    const active = this.matches.length ? `canned-opt-${this.state.index}` : '';
    if (active) {
      this.input.setAttribute('aria-activedescendant', active);
      this.listbox.querySelector<HTMLElement>('#' + active)?.scrollIntoView?.({ block: 'nearest' });
    } else this.input.removeAttribute('aria-activedescendant');
  }

  private close(): void {
    this.state = { open: false, index: 0 };
    this.token = null;
    this.matches = [];
    this.lastQuery = null;
    this.draw();
  }

  /** Replace the `/query` with the answer (placeholders filled). */
  private insert(a: CannedAnswer): void {
    const c = this.conv;
    const token = this.token;
    if (!c || !token) return;
    const text = fillPlaceholders(a.text, this.hooks.placeholders(c));
    const r = insertAnswer(this.input.value, token, text);
    this.close();
    this.setValue(r.value, r.caret);
  }

  /** Insert an answer at the caret (the coaching suggestion button). */
  insertCanned(a: CannedAnswer): void {
    const c = this.conv;
    if (!c || this.input.disabled) return;
    const text = fillPlaceholders(a.text, this.hooks.placeholders(c));
    const r = insertAtSelection(this.input.value, this.input.selectionStart ?? this.input.value.length, this.input.selectionEnd ?? this.input.value.length, text);
    this.close();
    this.setValue(r.value, r.caret);
  }

  private setValue(value: string, caret: number): void {
    this.input.value = value;
    this.input.focus();
    this.input.setSelectionRange(caret, caret);
    this.hooks.typing();
  }
}
