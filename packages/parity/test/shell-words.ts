/** A word of a POSIX shell command line, and whether any part of it was quoted. */
export interface ShellWord {
  text: string;
  quoted: boolean;
}

/**
 * Splits one shell command line into words: single quotes, double quotes and backslashes are
 * honoured; `$VAR` is kept as written (nothing is expanded). Enough for the run steps of
 * the example workflow, not a general shell parser.
 */
export function splitShellWords(line: string): ShellWord[] {
  const words: ShellWord[] = [];
  let text = "";
  let quoted = false;
  let inWord = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i] ?? "";
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new Error(`unterminated single quote in: ${line}`);
      text += line.slice(i + 1, end);
      quoted = true;
      inWord = true;
      i = end;
    } else if (c === '"') {
      let j = i + 1;
      for (; j < line.length && line[j] !== '"'; j++) {
        if (line[j] === "\\" && j + 1 < line.length && '"\\$`'.includes(line[j + 1] ?? "")) j++;
        text += line[j];
      }
      if (j >= line.length) throw new Error(`unterminated double quote in: ${line}`);
      quoted = true;
      inWord = true;
      i = j;
    } else if (c === "\\" && i + 1 < line.length) {
      text += line[i + 1];
      inWord = true;
      i++;
    } else if (c === " " || c === "\t") {
      if (inWord) words.push({ text, quoted });
      text = "";
      quoted = false;
      inWord = false;
    } else {
      text += c;
      inWord = true;
    }
  }
  if (inWord) words.push({ text, quoted });
  return words;
}
