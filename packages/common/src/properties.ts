/**
 * Java `.properties` reading and writing, enough for RocketMQ's broker.conf / namesrv.conf and the
 * GET_BROKER_CONFIG body: `key=value`, `key: value` and `key value`, `#`/`!` comments, line
 * continuations with a trailing backslash, and the usual escapes including \uXXXX.
 */
export function parseProperties(text: string): Map<string, string> {
  const out = new Map<string, string>();
  const lines = text.split(/\r\n|\r|\n/);
  for (let i = 0; i < lines.length; i++) {
    let line = stripLeading(lines[i] ?? '');
    if (line === '' || line[0] === '#' || line[0] === '!') continue;
    // Join continuation lines: an odd number of trailing backslashes continues the line.
    while (endsWithContinuation(line) && i + 1 < lines.length) {
      line = line.slice(0, -1) + stripLeading(lines[++i] ?? '');
    }
    if (endsWithContinuation(line)) line = line.slice(0, -1);
    let k = 0;
    let key = '';
    for (; k < line.length; k++) {
      const c = line[k]!;
      if (c === '\\') {
        key += c + (line[k + 1] ?? '');
        k++;
        continue;
      }
      if (c === '=' || c === ':' || c === ' ' || c === '\t' || c === '\f') break;
      key += c;
    }
    // Skip whitespace, then at most one separator, then whitespace.
    while (k < line.length && isBlank(line[k]!)) k++;
    if (k < line.length && (line[k] === '=' || line[k] === ':')) k++;
    while (k < line.length && isBlank(line[k]!)) k++;
    out.set(unescape(key), unescape(line.slice(k)));
  }
  return out;
}

/** Writes properties in a stable key order; values are escaped so `parseProperties` reads them back. */
export function stringifyProperties(entries: Iterable<[string, string]> | Record<string, string>): string {
  const list = Symbol.iterator in Object(entries) ? [...(entries as Iterable<[string, string]>)] : Object.entries(entries as Record<string, string>);
  list.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return list.map(([k, v]) => `${escape(k, true)}=${escape(v, false)}`).join('\n') + '\n';
}

function isBlank(c: string): boolean {
  return c === ' ' || c === '\t' || c === '\f';
}

function stripLeading(s: string): string {
  let i = 0;
  while (i < s.length && isBlank(s[i]!)) i++;
  return s.slice(i);
}

function endsWithContinuation(s: string): boolean {
  let n = 0;
  for (let i = s.length - 1; i >= 0 && s[i] === '\\'; i--) n++;
  return n % 2 === 1;
}

function unescape(s: string): string {
  if (!s.includes('\\')) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c !== '\\') {
      out += c;
      continue;
    }
    const n = s[++i];
    if (n === undefined) break;
    if (n === 't') {
      out += '\t';
    } else if (n === 'n') {
      out += '\n';
    } else if (n === 'r') {
      out += '\r';
    } else if (n === 'f') {
      out += '\f';
    } else if (n === 'u' && /^[0-9a-fA-F]{4}$/.test(s.slice(i + 1, i + 5))) {
      out += String.fromCharCode(parseInt(s.slice(i + 1, i + 5), 16));
      i += 4;
    } else {
      out += n;
    }
  }
  return out;
}

function escape(s: string, isKey: boolean): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\') out += '\\\\';
    else if (c === '\n') out += '\\n';
    else if (c === '\r') out += '\\r';
    else if (c === '\t') out += '\\t';
    else if (c === '\f') out += '\\f';
    else if ((c === '=' || c === ':' || c === '#' || c === '!') && isKey) out += '\\' + c;
    else if (c === ' ' && (isKey || i === 0)) out += '\\ ';
    else out += c;
  }
  return out;
}
