// ACL sign-in: the form shown in place of a page the API answered 401, and the signed-in access
// key with a sign-out button in the header. The secret key goes to the console once, in the
// sign-in request; the console keeps it server-side and never sends it back.
import { ApiError, api, errorBox, field, formValues, h, mount } from './dom.js';
import type { AuthSessionView } from './views.js';

/** A 401 from the API: the console wants a signed-in session. */
export function needsSignIn(e: unknown): boolean {
  return e instanceof ApiError && e.status === 401;
}

/** Shows the signed-in access key and a sign-out button in the header (nothing when ACL is off). */
export async function showSessionInHeader(): Promise<void> {
  const header = document.querySelector('header.top');
  if (!header) return;
  let box = document.getElementById('auth-status');
  if (!box) {
    box = h('div', { id: 'auth-status', class: 'auth-status' });
    header.appendChild(box);
  }
  const s = await api<AuthSessionView>('auth/session').catch(() => undefined);
  if (!s || !s.signedIn) {
    mount(box, s?.aclRequired ? h('span', { class: 'muted' }, 'not signed in') : null);
    return;
  }
  const out = h('button', { type: 'button', id: 'sign-out', class: 'link' }, 'Sign out');
  out.addEventListener('click', () => {
    void api<AuthSessionView>('auth/sign-out', { method: 'POST' }).finally(() => {
      void showSessionInHeader();
      window.dispatchEvent(new HashChangeEvent('hashchange'));
    });
  });
  mount(box, h('span', { id: 'signed-in-as', title: 'ACL access key' }, s.accessKey ?? ''), ' ', out);
}

/** The sign-in form; on success the current page loads again. */
export function signInPage(main: HTMLElement, reason: unknown): void {
  const status = h('div');
  const form = h(
    'form',
    { class: 'inline', id: 'sign-in', autocomplete: 'off' },
    field('Access key', h('input', { name: 'accessKey', required: true, autocomplete: 'username', spellcheck: 'false' })),
    field('Secret key', h('input', { name: 'secretKey', type: 'password', required: true, autocomplete: 'current-password' })),
    h('button', { type: 'submit' }, 'Sign in'),
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const v = formValues(form);
    form.reset();
    mount(status, h('p', { class: 'muted' }, 'Checking the keys with the cluster…'));
    api<AuthSessionView>('auth/sign-in', { method: 'POST', body: { accessKey: v['accessKey'] ?? '', secretKey: v['secretKey'] ?? '' } })
      .then(() => {
        void showSessionInHeader();
        window.dispatchEvent(new HashChangeEvent('hashchange'));
      })
      .catch((e: unknown) => mount(status, h('div', { id: 'sign-in-error' }, errorBox(e))));
  });
  mount(
    main,
    h('h1', null, 'Sign in'),
    h(
      'section',
      { class: 'card' },
      h('p', null, 'This cluster checks ACL. Sign in with an account of its plain_acl.yml; the console signs its requests with it.'),
      reason instanceof Error ? h('p', { class: 'muted' }, reason.message) : null,
      form,
      status,
    ),
  );
}
