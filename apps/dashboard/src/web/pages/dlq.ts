// Dead letters: the groups with a DLQ, and one group's DLQ with resend and export.
import { ApiError, api, errorBox, field, fmtTime, go, h, mount, num, table } from '../dom.js';
import type { DeadLetterPageView, DeadLetterView, ResendResultView, TopicSummaryView } from '../views.js';

const DLQ_PREFIX = '%DLQ%';

/** The first bytes of a body as text, one line. */
function preview(b64: string, max = 60): string {
  let text: string;
  try {
    const bin = atob(b64);
    const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
    text = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
  } catch {
    return '';
  }
  const one = text.replace(/\s+/g, ' ').trim();
  return one.length > max ? `${one.slice(0, max)}…` : one;
}

export async function dlqIndexPage(main: HTMLElement): Promise<void> {
  const topics = await api<TopicSummaryView[]>('topics');
  const groups = topics.filter((t) => t.kind === 'dlq').map((t) => t.topic.slice(DLQ_PREFIX.length));
  const input = h('input', { name: 'group', required: true, placeholder: 'ConsumerGroup' });
  const form = h('form', { class: 'inline', id: 'dlq-open' }, field('Consumer group', input), h('button', { type: 'submit' }, 'Open'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (input.value.trim()) go(`dlq/${encodeURIComponent(input.value.trim())}`);
  });
  mount(
    main,
    h('h1', null, 'Dead letters'),
    h(
      'section',
      { class: 'card' },
      h('p', { class: 'muted' }, 'Messages a consumer group gave up on are kept in the topic %DLQ%<group>.'),
      form,
      h('h2', null, 'Groups with a dead-letter queue'),
      table(
        ['Group'],
        groups.map((g) => h('tr', { 'data-group': g }, h('td', null, h('a', { href: `#/dlq/${encodeURIComponent(g)}` }, g)))),
        'no group has a dead-letter queue',
      ),
    ),
  );
}

/** POSTs the export and hands the answer to the browser as a file. */
async function download(group: string, format: 'json' | 'csv', ids: string[] | undefined): Promise<string> {
  const res = await fetch(`api/dlq/${encodeURIComponent(group)}/export`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ format, ...(ids ? { ids } : {}) }),
  });
  if (!res.ok) {
    const text = await res.text();
    let msg = `HTTP ${res.status}`;
    try {
      msg = (JSON.parse(text) as { error?: string }).error ?? msg;
    } catch {
      // not JSON
    }
    throw new ApiError(msg, res.status);
  }
  const name = /filename="([^"]+)"/.exec(res.headers.get('Content-Disposition') ?? '')?.[1] ?? `dlq-${group}.${format}`;
  const url = URL.createObjectURL(await res.blob());
  const a = h('a', { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
  return name;
}

export async function dlqPage(main: HTMLElement, group: string, query: URLSearchParams): Promise<void> {
  const limit = Number(query.get('limit') ?? '100') || 100;
  const page = await api<DeadLetterPageView>(`dlq/${encodeURIComponent(group)}?limit=${limit}`);
  const status = h('div', { id: 'dlq-status' });
  const boxes = new Map<string, HTMLInputElement>();
  const selected = (): string[] => [...boxes].filter(([, b]) => b.checked).map(([id]) => id);
  const all = h('input', { type: 'checkbox', id: 'dlq-select-all', 'aria-label': 'select every message on the page' });
  const resendSel = h('button', { type: 'button', id: 'dlq-resend-selected', disabled: true }, 'Resend selected');
  const exportSel = h('button', { type: 'button', id: 'dlq-export-selected', class: 'secondary', disabled: true }, 'Export selected (JSON)');
  const exportJson = h('button', { type: 'button', id: 'dlq-export-json', class: 'secondary' }, 'Export page (JSON)');
  const exportCsv = h('button', { type: 'button', id: 'dlq-export-csv', class: 'secondary' }, 'Export page (CSV)');
  const count = h('span', { class: 'muted', id: 'dlq-selected-count' }, '0 selected');
  const sync = (): void => {
    const n = selected().length;
    count.textContent = `${n} selected`;
    resendSel.disabled = n === 0;
    exportSel.disabled = n === 0;
    all.checked = n > 0 && n === boxes.size;
  };
  all.addEventListener('change', () => {
    for (const b of boxes.values()) b.checked = all.checked;
    sync();
  });

  const resend = async (ids: string[]): Promise<void> => {
    mount(status, h('p', { class: 'muted' }, `Resending ${ids.length} message(s) to %RETRY%${group}…`));
    try {
      const { results } = await api<{ results: ResendResultView[] }>(`dlq/${encodeURIComponent(group)}/resend`, { method: 'POST', body: { ids } });
      const ok = results.filter((r) => r.ok).length;
      mount(
        status,
        h(
          'div',
          { class: ok === results.length ? 'notice' : 'error', id: 'resend-summary' },
          `${ok} of ${results.length} resent to ${[...new Set(results.map((r) => r.retryTopic))].join(', ')}`,
        ),
        table(
          ['Message', 'Result', 'Retry queue', ['Offset', 'num'], 'New offset msgId'],
          results.map((r) =>
            h(
              'tr',
              { 'data-result': r.id },
              h('td', null, r.id),
              h('td', null, r.ok ? h('span', { class: 'flag ok' }, r.sendStatus ?? 'SEND_OK') : h('span', { class: 'flag bad' }, r.error ?? 'failed')),
              h('td', null, r.ok ? `${r.retryTopic} · ${r.brokerName} / ${r.queueId}` : '-'),
              r.ok ? num(r.queueOffset) : h('td', null, '-'),
              h('td', null, r.newOffsetMsgId || '-'),
            ),
          ),
        ),
      );
    } catch (e) {
      mount(status, errorBox(e));
    }
  };
  const exportRun = (format: 'json' | 'csv', ids: string[] | undefined): void => {
    mount(status, h('p', { class: 'muted' }, 'Exporting…'));
    download(group, format, ids)
      .then((name) => mount(status, h('div', { class: 'notice', id: 'export-done' }, `Downloaded ${name}`)))
      .catch((e: unknown) => mount(status, errorBox(e)));
  };
  resendSel.addEventListener('click', () => void resend(selected()));
  exportSel.addEventListener('click', () => exportRun('json', selected()));
  const pageIds = page.messages.map((d) => d.message.offsetMsgId);
  exportJson.addEventListener('click', () => exportRun('json', pageIds));
  exportCsv.addEventListener('click', () => exportRun('csv', pageIds));

  const row = (d: DeadLetterView): HTMLElement => {
    const m = d.message;
    const box = h('input', { type: 'checkbox', 'aria-label': `select ${m.msgId}` });
    box.addEventListener('change', sync);
    boxes.set(m.offsetMsgId, box);
    return h(
      'tr',
      { 'data-id': m.offsetMsgId, 'data-keys': m.keys.join(' ') },
      h('td', null, box),
      h('td', null, h('button', { type: 'button', class: 'secondary resend-one', onclick: () => void resend([m.offsetMsgId]) }, 'Resend')),
      h('td', { class: 'msgid' }, h('a', { href: `#/messages?mode=id&id=${encodeURIComponent(m.offsetMsgId)}` }, m.msgId)),
      h('td', { class: 'origin-topic' }, d.originTopic || '-'),
      h('td', { class: 'num reconsumed' }, d.reconsumeTimes),
      h('td', { class: 'reason' }, d.exceptionText ?? d.reason),
      h('td', { class: 'keys' }, m.keys.join(' ') || '-'),
      h('td', { class: 'tags' }, m.tags || '-'),
      h('td', { class: 'stored' }, fmtTime(m.storeTimestamp)),
      h('td', { class: 'origin-msgid' }, d.originMsgId || '-'),
      h('td', { class: 'body-preview' }, preview(m.bodyBase64)),
    );
  };

  mount(
    main,
    h('p', null, h('a', { href: '#/dlq' }, '← Dead letters'), ' · ', h('a', { href: `#/groups/${encodeURIComponent(group)}` }, `group ${group}`)),
    h('h1', null, `Dead letters of ${group}`),
    h(
      'div',
      { class: 'stats' },
      h('div', { class: 'stat' }, h('b', { id: 'dlq-total' }, page.total.toLocaleString('en-US')), h('span', null, `in ${page.topic}`)),
      h('div', { class: 'stat' }, h('b', null, page.retryMaxTimes ?? '-'), h('span', null, 'retryMaxTimes of the group')),
    ),
    h(
      'section',
      { class: 'card' },
      h(
        'p',
        { class: 'muted', id: 'dlq-reason-note' },
        'Failure reason: RocketMQ clients do not report the exception that failed a message (neither the send-back of 4.x clients nor the gRPC calls of 5.x clients carry it), so it shows as not reported; the broker counts the failed deliveries.',
      ),
      h('div', { class: 'toolbar' }, h('label', null, all, ' all on this page'), count, resendSel, exportSel, exportJson, exportCsv),
      status,
      h('h2', null, 'Messages, newest first'),
      table(
        ['', '', 'Message ID', 'Original topic', ['Reconsumed', 'num'], 'Failure reason', 'Keys', 'Tags', 'Stored', 'Original msgId', 'Body'],
        page.messages.map(row),
        'the dead-letter queue is empty',
      ),
      page.truncated
        ? h(
            'p',
            { class: 'muted' },
            `The newest ${page.messages.length} of ${page.total}. `,
            h('a', { href: `#/dlq/${encodeURIComponent(group)}?limit=500` }, 'show 500'),
          )
        : null,
    ),
  );
}
