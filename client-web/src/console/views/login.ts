/** The sign-in form. On success hands the session to the app. */
import { h } from '../../shared/dom';
import { LoginError, login, type Session } from '../api';
import { t } from '../i18n';
import { langSelect } from './header';
import type { Lang } from '../i18n';

export interface LoginOptions {
  /** shown in the error box at once (e.g. "session expired") */
  message?: string;
  /** prefilled (kept across a language switch) */
  username?: string;
  onLoggedIn(s: Session): void;
  onLang(lang: Lang): void;
}

function failureText(ex: unknown): string {
  const s = t();
  if (!(ex instanceof LoginError)) return s.signInFailed;
  switch (ex.kind) {
    case 'unreachable':
      return s.loginUnreachable;
    case 'unauthorized':
      return s.loginWrong;
    case 'rate_limited':
      return s.loginTooMany;
    case 'unexpected':
      return s.loginUnexpected;
    default:
      return s.loginStatus(ex.status);
  }
}

export function renderLogin(root: HTMLElement, opts: LoginOptions): void {
  const s = t();
  document.title = s.signInTitle;
  const user = h('input', { id: 'username', name: 'username', autocomplete: 'username', required: true, 'data-testid': 'username' });
  user.value = opts.username ?? '';
  const pass = h('input', { id: 'password', name: 'password', type: 'password', autocomplete: 'current-password', required: true, 'data-testid': 'password' });
  const err = h('div', { class: 'login-error', role: 'alert', 'data-testid': 'login-error', hidden: !opts.message }, opts.message ?? '');
  const btn = h('button', { class: 'btn primary wide', type: 'submit', 'data-testid': 'login' }, s.signIn);
  const form = h(
    'form',
    { class: 'login-card', 'aria-labelledby': 'login-title' },
    h('div', { class: 'login-brand' }, h('span', { class: 'logo', 'aria-hidden': 'true' }), h('span', {}, 'Calma'), h('span', { class: 'spacer' }), langSelect(opts.onLang, 'login-lang')),
    h('h1', { id: 'login-title' }, s.signInHeading),
    h('p', { class: 'muted' }, s.signInSub),
    h('label', { for: 'username' }, s.username),
    user,
    h('label', { for: 'password' }, s.password),
    pass,
    err,
    btn,
    h('p', { class: 'demo-hint' }, s.demoAccounts),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    err.hidden = true;
    btn.disabled = true;
    btn.textContent = t().signingIn;
    try {
      opts.onLoggedIn(await login(user.value.trim(), pass.value));
    } catch (ex) {
      err.textContent = failureText(ex);
      err.hidden = false;
      btn.disabled = false;
      btn.textContent = t().signIn;
      pass.select();
    }
  });
  root.replaceChildren(h('div', { class: 'login-wrap' }, form));
  user.focus();
}
