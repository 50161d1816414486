/**
 * POSIX regular expressions, as sed writes them, translated to JavaScript RegExp source:
 * basic (BRE: `\(…\)`, `\{m,n\}`, and GNU's `\+ \? \|`) or extended (ERE, sed -E). The result
 * is meant for the `s` (dotAll) flag, since sed's `.` matches any character. Classes such as
 * `[[:alpha:]]` are ASCII, as in the C locale.
 */

const CLASSES: Record<string, string> = {
  alpha: 'A-Za-z',
  digit: '0-9',
  alnum: '0-9A-Za-z',
  upper: 'A-Z',
  lower: 'a-z',
  space: ' \\t\\n\\r\\f\\v',
  blank: ' \\t',
  punct: '!-\\/:-@\\[-`{-~',
  print: ' -~',
  graph: '!-~',
  cntrl: '\\x00-\\x1f\\x7f',
  xdigit: '0-9A-Fa-f',
};

const JS_SPECIAL = /[\\^$.*+?()[\]{}|/]/;

function literal(c: string): string {
  return JS_SPECIAL.test(c) ? `\\${c}` : c;
}

/** A bracket expression starting at re[i] === '['; returns the JS class and the index after it. */
function bracket(re: string, start: number): [string, number] {
  let i = start + 1;
  let out = '[';
  if (re[i] === '^') {
    out += '^';
    i++;
  }
  let first = true;
  for (;;) {
    const c = re[i];
    if (c === undefined) throw new Error(`unterminated bracket expression in "${re}"`);
    if (c === ']' && !first) return [`${out}]`, i + 1];
    first = false;
    if (c === '[' && (re[i + 1] === ':' || re[i + 1] === '.' || re[i + 1] === '=')) {
      const kind = re[i + 1]!;
      const close = re.indexOf(`${kind}]`, i + 2);
      if (close === -1) throw new Error(`unterminated [${kind} in "${re}"`);
      const name = re.slice(i + 2, close);
      if (kind === ':') {
        const cls = CLASSES[name];
        if (cls === undefined) throw new Error(`unknown character class [:${name}:]`);
        out += cls;
      } else if ([...name].length === 1) out += literal(name);
      else throw new Error(`collating element [${kind}${name}${kind}] is not supported`);
      i = close + 2;
      continue;
    }
    if (c === '\\') {
      // POSIX: a backslash is itself inside brackets; GNU sed reads \n and \t
      const n = re[i + 1];
      if (n === 'n' || n === 't') {
        out += `\\${n}`;
        i += 2;
        continue;
      }
      out += '\\\\';
      i++;
      continue;
    }
    out += c === ']' || c === '[' ? `\\${c}` : c;
    i++;
  }
}

export function posixToJs(re: string, extended: boolean): string {
  let out = '';
  let i = 0;
  // where `*` is literal and `^` an anchor: the start, after a group opens, after an alternation
  let atStart = true;
  let depth = 0;
  while (i < re.length) {
    const c = re[i]!;
    if (c === '\\') {
      const n = re[i + 1];
      if (n === undefined) throw new Error(`trailing backslash in "${re}"`);
      i += 2;
      if (!extended && '(){}|+?'.includes(n)) {
        if (n === '{') {
          const close = re.indexOf('\\}', i);
          const body = close === -1 ? '' : re.slice(i, close);
          if (!/^\d+(,\d*)?$/.test(body)) throw new Error(`bad interval \\{${body}\\} in "${re}"`);
          out += `{${body}}`;
          i = close + 2;
          atStart = false;
          continue;
        }
        if (n === '}') throw new Error(`unmatched \\} in "${re}"`);
        if (n === '(') depth++;
        if (n === ')' && --depth < 0) throw new Error(`unmatched \\) in "${re}"`);
        out += n;
        atStart = n === '(' || n === '|';
        continue;
      }
      atStart = false;
      if (n >= '1' && n <= '9') out += `\\${n}`;
      else if (n === 'n') out += '\\n';
      else if (n === 't') out += '\\t';
      else if ('wWsSbB'.includes(n)) out += `\\${n}`;
      else if (n === '<') out += '\\b(?=\\w)';
      else if (n === '>') out += '\\b(?<=\\w)';
      else out += literal(n);
      continue;
    }
    i++;
    if (c === '[') {
      const [cls, next] = bracket(re, i - 1);
      out += cls;
      i = next;
      atStart = false;
      continue;
    }
    if (c === '^') {
      out += extended || atStart ? '^' : '\\^';
      continue; // `^*`: the star is still literal
    }
    if (c === '$') {
      const rest = re.slice(i);
      const anchor = extended || rest === '' || rest.startsWith('\\)') || rest.startsWith('\\|');
      out += anchor ? '$' : '\\$';
      atStart = false;
      continue;
    }
    if (c === '*' && atStart) {
      out += '\\*';
      atStart = false;
      continue;
    }
    if (extended && (c === '(' || c === '|')) {
      if (c === '(') depth++;
      out += c;
      atStart = true;
      continue;
    }
    if (extended && c === ')') {
      if (--depth < 0) throw new Error(`unmatched ) in "${re}"`);
      out += c;
      atStart = false;
      continue;
    }
    if (!extended && '(){}|+?'.includes(c)) out += `\\${c}`;
    else if (c === '/') out += '\\/';
    else out += c;
    atStart = false;
  }
  if (depth !== 0) throw new Error(`unmatched ${extended ? '(' : '\\('} in "${re}"`);
  return out;
}
