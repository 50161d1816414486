/**
 * Split a directive's arguments the way httpd's ap_getword_conf does: words separated by
 * white space; a word that starts with " or ' runs to the matching quote, inside which a
 * backslash before that quote stands for the quote itself (any other backslash stays).
 */
export function confWords(line: string): string[] {
  const words: string[] = [];
  let i = 0;
  const n = line.length;
  while (i < n) {
    while (i < n && /\s/.test(line[i]!)) i++;
    if (i >= n) break;
    const q = line[i]!;
    if (q === '"' || q === "'") {
      let word = '';
      let j = i + 1;
      for (; j < n; j++) {
        const c = line[j]!;
        if (c === '\\' && line[j + 1] === q) {
          word += q;
          j++;
        } else if (c === q) break;
        else word += c;
      }
      if (j >= n) throw new Error(`unclosed ${q} starting at column ${i + 1}`);
      words.push(word);
      i = j + 1;
    } else {
      let j = i;
      while (j < n && !/\s/.test(line[j]!)) j++;
      words.push(line.slice(i, j));
      i = j;
    }
  }
  return words;
}
