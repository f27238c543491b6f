// The group page's offset reset (preview, apply, undo, history) and its link to the group's dead letters.
import { api, errorBox, field, fmtTime, h, mount, num, table } from '../dom.js';
import type { GroupDetailView, OffsetPlanView, OffsetResetMode, OffsetResetRecordView, OffsetResetRequest } from '../views.js';

/** `2026-12-03T08:30:15` (local time) for a datetime-local input with seconds. */
function localInput(ms: number): string {
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60_000);
  return d.toISOString().slice(0, 19);
}

const deltaCell = (delta: number): HTMLTableCellElement =>
  h(
    'td',
    { class: 'num delta' },
    delta > 0
      ? h('span', { class: 'flag warn' }, `skip ${delta.toLocaleString('en-US')}`)
      : delta < 0
        ? h('span', { class: 'flag ok' }, `replay ${(-delta).toLocaleString('en-US')}`)
        : '0',
  );

function planTable(plan: OffsetPlanView): HTMLElement {
  return h(
    'div',
    { id: 'offset-plan' },
    h(
      'p',
      { id: 'offset-totals' },
      h('b', null, `skips ${plan.skipped.toLocaleString('en-US')}, replays ${plan.replayed.toLocaleString('en-US')} messages`),
      ` on ${plan.changed} of ${plan.queues.length} queues`,
    ),
    plan.notes.map((n) => h('p', { class: 'muted' }, n)),
    table(
      // The change first: on a phone the columns past the first few need a sideways scroll.
      ['Queue', ['Change', 'num'], ['Current', 'num'], ['Target', 'num'], 'Topic', ['Min', 'num'], ['Max', 'num']],
      plan.queues.map((q) =>
        h(
          'tr',
          { 'data-queue': `${q.topic}/${q.brokerName}/${q.queueId}` },
          h('td', null, `${q.brokerName} / ${q.queueId}`),
          deltaCell(q.delta),
          h('td', { class: 'num current' }, q.currentOffset < 0 ? 'none' : q.currentOffset.toLocaleString('en-US')),
          h('td', { class: 'num target' }, q.targetOffset.toLocaleString('en-US')),
          h('td', null, q.topic),
          num(q.minOffset),
          num(q.maxOffset),
        ),
      ),
      'no queue',
    ),
  );
}

function historyTable(records: OffsetResetRecordView[]): HTMLElement {
  return table(
    ['Applied', 'Topics', 'Target', ['Queues', 'num'], ['Skipped', 'num'], ['Replayed', 'num'], 'Undone'],
    records.map((r) =>
      h(
        'tr',
        { 'data-record': r.id },
        h('td', null, fmtTime(r.appliedAt)),
        h('td', null, r.plan.topics.join(', ')),
        h('td', null, r.plan.mode === 'time' ? `time ${fmtTime(r.plan.timestamp ?? 0)}` : r.plan.mode),
        num(r.previous.length),
        num(r.plan.skipped),
        num(r.plan.replayed),
        h('td', null, r.undoneAt ? fmtTime(r.undoneAt) : h('span', { class: 'flag warn' }, 'not undone')),
      ),
    ),
    'no reset from this console yet',
  );
}

/** Appended below the group page: offset reset with preview and undo, and the dead letters link. */
export async function groupOffsetTools(main: HTMLElement, group: string): Promise<void> {
  const enc = encodeURIComponent(group);
  const [detail, history] = await Promise.all([api<GroupDetailView>(`groups/${enc}`), api<OffsetResetRecordView[]>(`groups/${enc}/offsets/history`)]);
  const topics = [...new Set(detail.queues.map((q) => q.topic).filter((t) => !t.startsWith('%RETRY%')))].sort();
  const retry = [...new Set(detail.queues.map((q) => q.topic).filter((t) => t.startsWith('%RETRY%')))];

  const topicSel = h(
    'select',
    { name: 'topic' },
    h('option', { value: '' }, 'all topics of the group'),
    [...topics, ...retry].map((t) => h('option', { value: t }, t)),
  );
  const modeSel = h(
    'select',
    { name: 'mode' },
    h('option', { value: 'time' }, 'to a time'),
    h('option', { value: 'earliest' }, 'to the earliest (min offset)'),
    h('option', { value: 'latest' }, 'to the latest (max offset)'),
    h('option', { value: 'offset' }, 'to an offset per queue'),
  );
  const timeInput = h('input', { name: 'timestamp', type: 'datetime-local', step: 1, value: localInput(Date.now() - 3600_000) });
  const timeField = field('Time', timeInput);
  const offsetsBox = h('div', { id: 'offset-inputs' });
  const previewBtn = h('button', { type: 'submit', id: 'offset-preview' }, 'Preview');
  const applyBtn = h('button', { type: 'button', id: 'offset-apply', class: 'danger', disabled: true }, 'Apply');
  const undoBtn = h(
    'button',
    { type: 'button', id: 'offset-undo', class: 'secondary', disabled: !history.some((r) => r.undoneAt === null) },
    'Undo last reset',
  );
  const result = h('div', { id: 'offset-result' });
  const historyBox = h('div', { id: 'offset-history' }, historyTable(history));
  let lastRequest: OffsetResetRequest | undefined;

  const offsetInputs = new Map<string, { topic: string; brokerName: string; queueId: number; input: HTMLInputElement }>();
  const renderOffsetInputs = (): void => {
    offsetInputs.clear();
    const t = topicSel.value;
    const rows = detail.queues
      .filter((q) => (t ? q.topic === t : !q.topic.startsWith('%RETRY%')))
      .map((q) => {
        const input = h('input', {
          type: 'number',
          min: 0,
          value: q.consumerOffset,
          class: 'short',
          'aria-label': `target offset of ${q.topic} ${q.brokerName} ${q.queueId}`,
        });
        const key = `${q.topic}/${q.brokerName}/${q.queueId}`;
        offsetInputs.set(key, { topic: q.topic, brokerName: q.brokerName, queueId: q.queueId, input });
        return h(
          'tr',
          { 'data-queue': key },
          h('td', null, `${q.brokerName} / ${q.queueId}`),
          h('td', null, input),
          num(q.consumerOffset),
          h('td', null, q.topic),
        );
      });
    mount(offsetsBox, table(['Queue', 'Target offset', ['Committed', 'num'], 'Topic'], rows, 'the group has no offsets here'));
  };
  const syncMode = (): void => {
    const mode = modeSel.value as OffsetResetMode;
    timeField.hidden = mode !== 'time';
    if (mode === 'offset') renderOffsetInputs();
    else mount(offsetsBox);
    mount(result); // a preview of other settings no longer holds
    applyBtn.disabled = true;
  };
  modeSel.addEventListener('change', syncMode);
  topicSel.addEventListener('change', syncMode);

  const request = (): OffsetResetRequest => {
    const mode = modeSel.value as OffsetResetMode;
    const req: OffsetResetRequest = { topic: topicSel.value, mode };
    if (mode === 'time') req.timestamp = new Date(timeInput.value).getTime();
    if (mode === 'offset') {
      req.offsets = [...offsetInputs.values()].map((o) => ({ topic: o.topic, brokerName: o.brokerName, queueId: o.queueId, offset: Number(o.input.value) }));
    }
    return req;
  };
  const refreshHistory = async (): Promise<void> => {
    const records = await api<OffsetResetRecordView[]>(`groups/${enc}/offsets/history`);
    mount(historyBox, historyTable(records));
    undoBtn.disabled = !records.some((r) => r.undoneAt === null);
  };

  const form = h('form', { class: 'inline', id: 'offset-reset' }, field('Topic', topicSel), field('Reset', modeSel), timeField, previewBtn, applyBtn, undoBtn);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const req = request();
    mount(result, h('p', { class: 'muted' }, 'Computing…'));
    applyBtn.disabled = true;
    api<OffsetPlanView>(`groups/${enc}/offsets/preview`, { method: 'POST', body: req })
      .then((plan) => {
        lastRequest = req;
        mount(result, h('div', { class: 'notice' }, 'Preview: nothing has changed yet.'), planTable(plan));
        applyBtn.disabled = plan.changed === 0;
      })
      .catch((e: unknown) => mount(result, errorBox(e)));
  });
  applyBtn.addEventListener('click', () => {
    if (!lastRequest || !confirm(`Reset the offsets of ${group}? The previous offsets are kept for undo.`)) return;
    applyBtn.disabled = true;
    api<OffsetResetRecordView>(`groups/${enc}/offsets/apply`, { method: 'POST', body: lastRequest })
      .then(async (r) => {
        mount(
          result,
          h(
            'div',
            { class: 'notice', id: 'offset-applied' },
            `Reset applied to ${r.previous.length} queue(s): skipped ${r.plan.skipped}, replayed ${r.plan.replayed}.`,
          ),
          planTable(r.plan),
        );
        await refreshHistory();
      })
      .catch((e: unknown) => mount(result, errorBox(e)));
  });
  undoBtn.addEventListener('click', () => {
    if (!confirm(`Restore the offsets ${group} had before its last reset?`)) return;
    undoBtn.disabled = true;
    api<OffsetResetRecordView>(`groups/${enc}/offsets/undo`, { method: 'POST', body: {} })
      .then(async (r) => {
        mount(
          result,
          h(
            'div',
            { class: 'notice', id: 'offset-undone' },
            `Restored ${r.restored?.length ?? 0} queue(s) to their offsets before the reset of ${fmtTime(r.appliedAt)}.`,
          ),
          table(
            ['Topic', 'Queue', ['Offset', 'num'], 'Note'],
            (r.restored ?? []).map((q) =>
              h(
                'tr',
                { 'data-queue': `${q.topic}/${q.brokerName}/${q.queueId}` },
                h('td', null, q.topic),
                h('td', null, `${q.brokerName} / ${q.queueId}`),
                num(q.offset),
                h('td', null, q.note ?? ''),
              ),
            ),
          ),
        );
        await refreshHistory();
      })
      .catch((e: unknown) => {
        mount(result, errorBox(e));
        undoBtn.disabled = false;
      });
  });
  syncMode();

  main.append(
    h(
      'section',
      { class: 'card', id: 'offset-reset-card' },
      h('h2', null, 'Reset offsets'),
      h(
        'p',
        { class: 'muted' },
        'Preview shows per queue how many messages the group would skip or consume again; nothing changes until Apply. Online consumers follow the reset. Undo restores the committed offsets from before the last reset.',
      ),
      form,
      offsetsBox,
      result,
      h('h2', null, 'Resets from this console'),
      historyBox,
    ),
    h(
      'section',
      { class: 'card' },
      h('h2', null, 'Dead letters'),
      h('p', null, h('a', { href: `#/dlq/${enc}`, id: 'dlq-link' }, `Messages ${group} gave up on (%DLQ%${group})`)),
    ),
  );
}
