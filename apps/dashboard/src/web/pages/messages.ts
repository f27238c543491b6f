import { api, errorBox, field, fmtTime, formValues, go, h, loading, mount, table } from '../dom.js';
import type { MessageView } from '../views.js';

type Mode = 'key' | 'id' | 'time';
const MODES: Array<[Mode, string]> = [
  ['key', 'By key'],
  ['id', 'By message ID'],
  ['time', 'By topic and time'],
];

function localInput(ms: number): string {
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60_000);
  return d.toISOString().slice(0, 16);
}

function decodeBase64(b64: string): Uint8Array {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** Classic 16-bytes-a-line dump: offset, hex, printable ASCII. */
export function hexDump(bytes: Uint8Array): string {
  const lines: string[] = [];
  for (let i = 0; i < bytes.length; i += 16) {
    const row = bytes.subarray(i, i + 16);
    const hex = [...row].map((b) => b.toString(16).padStart(2, '0')).join(' ');
    const ascii = [...row].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
    lines.push(`${i.toString(16).padStart(8, '0')}  ${hex.padEnd(47)}  ${ascii}`);
  }
  return lines.join('\n');
}

function bodyView(m: MessageView): HTMLElement {
  const bytes = decodeBase64(m.bodyBase64);
  const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
  let json: string | undefined;
  try {
    json = JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    json = undefined;
  }
  const pre = h('pre', { class: 'body', id: 'message-body' });
  const tabs = h('div', { class: 'tabs', role: 'tablist' });
  const show = (mode: 'text' | 'json' | 'hex'): void => {
    pre.classList.toggle('hex', mode === 'hex');
    pre.textContent = mode === 'hex' ? hexDump(bytes) : mode === 'json' ? (json ?? '') : text;
    for (const b of tabs.querySelectorAll('button')) b.classList.toggle('active', b.dataset['mode'] === mode);
  };
  for (const [mode, label] of [
    ['text', 'Text'],
    ['json', 'JSON'],
    ['hex', 'Hex'],
  ] as const) {
    if (mode === 'json' && json === undefined) continue;
    tabs.append(h('button', { type: 'button', 'data-mode': mode, onclick: () => show(mode) }, label));
  }
  show(json !== undefined ? 'json' : 'text');
  return h(
    'div',
    null,
    tabs,
    pre,
    h('p', { class: 'muted' }, `${m.bodySize.toLocaleString('en-US')} bytes${m.bodyTruncated ? ` (first ${bytes.length.toLocaleString('en-US')} shown)` : ''}`),
  );
}

function detail(m: MessageView): HTMLElement {
  const kv = (pairs: Array<[string, string | number]>): HTMLElement =>
    h(
      'dl',
      { class: 'kv' },
      pairs.flatMap(([k, v]) => [h('dt', null, k), h('dd', null, String(v))]),
    );
  return h(
    'section',
    { class: 'card', id: 'message-detail' },
    h('h2', null, 'Message ', m.msgId),
    h(
      'p',
      null,
      h(
        'a',
        {
          href: `#/where/${encodeURIComponent(m.msgId)}?${new URLSearchParams({ topic: m.properties['RETRY_TOPIC'] ?? m.properties['REAL_TOPIC'] ?? m.topic })}`,
          id: 'where-link',
        },
        'Where is this message?',
      ),
    ),
    kv([
      ['Topic', m.topic],
      ['Message ID', m.msgId],
      ['Offset message ID', m.offsetMsgId],
      ['Tags', m.tags || '-'],
      ['Keys', m.keys.join(' ') || '-'],
      ['Broker / queue / offset', `${m.brokerName} / ${m.queueId} / ${m.queueOffset}`],
      ['Commit log offset', m.commitLogOffset],
      ['Born', `${fmtTime(m.bornTimestamp)} from ${m.bornHost}`],
      ['Stored', `${fmtTime(m.storeTimestamp)} on ${m.storeHost}`],
      ['Reconsume times', m.reconsumeTimes],
      ['System flag / flag', `${m.sysFlag} / ${m.flag}`],
      ['Store size / body CRC', `${m.storeSize} / ${m.bodyCRC}`],
    ]),
    h('h2', null, 'Properties'),
    kv(Object.entries(m.properties)),
    h('h2', null, 'Body'),
    bodyView(m),
  );
}

function results(list: MessageView[], note?: string): HTMLElement {
  const out = h('div');
  const detailBox = h('div');
  const rows = list.map((m) =>
    h(
      'tr',
      { class: 'clickable', 'data-msgid': m.msgId, onclick: () => (mount(detailBox, detail(m)), detailBox.scrollIntoView({ block: 'start' })) },
      h('td', null, m.msgId),
      h('td', null, m.tags || '-'),
      h('td', null, m.keys.join(' ') || '-'),
      h('td', null, fmtTime(m.storeTimestamp)),
      h('td', null, `${m.brokerName}/${m.queueId}/${m.queueOffset}`),
    ),
  );
  mount(
    out,
    h('p', { class: 'muted', id: 'result-count' }, `${list.length} message${list.length === 1 ? '' : 's'}${note ? ` · ${note}` : ''}`),
    table(['Message ID', 'Tags', 'Keys', 'Stored', 'Queue'], rows, 'no message found'),
    detailBox,
  );
  if (list.length === 1) mount(detailBox, detail(list[0]!));
  return out;
}

export async function messagesPage(main: HTMLElement, query: URLSearchParams): Promise<void> {
  const mode = (['key', 'id', 'time'].includes(query.get('mode') ?? '') ? query.get('mode') : 'key') as Mode;
  const topic = query.get('topic') ?? '';
  const now = Date.now();
  const tabs = h(
    'div',
    { class: 'tabs' },
    MODES.map(([m, label]) => h('button', { type: 'button', class: m === mode ? 'active' : null, onclick: () => go('messages', { mode: m, topic }) }, label)),
  );
  const topicInput = h('input', { name: 'topic', value: topic, required: mode !== 'id', placeholder: 'TopicName' });
  const fields =
    mode === 'key'
      ? [field('Topic', topicInput), field('Key', h('input', { name: 'key', required: true, value: query.get('key') ?? '' }))]
      : mode === 'id'
        ? [field('Message ID', h('input', { name: 'id', required: true, value: query.get('id') ?? '', size: 34 })), field('Topic (for client IDs)', topicInput)]
        : [
            field('Topic', topicInput),
            field('From', h('input', { name: 'begin', type: 'datetime-local', value: query.get('begin') ?? localInput(now - 3600_000) })),
            field('To', h('input', { name: 'end', type: 'datetime-local', value: query.get('end') ?? localInput(now + 60_000) })),
          ];
  const form = h('form', { class: 'inline', id: 'message-search' }, fields, h('button', { type: 'submit' }, 'Search'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    go('messages', { mode, ...formValues(form), run: String(Date.now()) });
  });
  const result = h('div');
  mount(main, h('h1', null, 'Messages'), h('section', { class: 'card' }, tabs, form), result);

  const params = new URLSearchParams();
  params.set('topic', topic);
  let path: string;
  if (mode === 'key') {
    if (!topic || !query.get('key')) return;
    params.set('key', query.get('key')!);
    path = `messages/by-key?${params}`;
  } else if (mode === 'id') {
    if (!query.get('id')) return;
    params.set('id', query.get('id')!);
    path = `messages/by-id?${params}`;
  } else {
    if (!topic) return;
    const b = Date.parse(query.get('begin') ?? '');
    const e = Date.parse(query.get('end') ?? '');
    params.set('begin', String(Number.isFinite(b) ? b : now - 3600_000));
    params.set('end', String(Number.isFinite(e) ? e : now + 60_000));
    path = `messages/by-time?${params}`;
  }
  mount(result, loading());
  try {
    const r = await api<{ messages: MessageView[]; truncated?: boolean }>(path);
    mount(result, h('section', { class: 'card' }, results(r.messages, r.truncated ? 'more matched: narrow the time range' : undefined)));
  } catch (e) {
    mount(result, errorBox(e));
  }
}
