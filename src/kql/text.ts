/**
 * Matching on text fields (by default only `message`, and free text without a field).
 *
 * Elasticsearch analyses text fields (the standard analyser splits words and lower-cases them), so
 * `message: Failed` matches the word "failed" anywhere. We have no index and no mapping, so we approximate:
 * - a word is a run of letters, digits and `_` (Unicode aware); comparison ignores case;
 * - unquoted `message: failed password`: every word of the value occurs as a word of the message, in any
 *   order (Kibana's documentation describes this; Elasticsearch's `match` would accept any one word);
 * - quoted `message: "failed password"`: the words occur consecutively, in that order (a phrase), separated
 *   by anything that is not a word character; a phrase without words (`"../.."`) is a case-insensitive substring;
 * - wildcards `message: *wget*`: the pattern (case-insensitive) matches one word of the message (as in
 *   Elasticsearch) or the whole message (so `*Failed password*` works as a substring search).
 * The regular expressions built here are linear: literal words joined by one non-word class.
 */
import type { KqlValue } from "./ast.ts";
import { compileWildcard } from "./values.ts";

const WORD = /[\p{L}\p{N}_]+/gu;
const NOT_WORD = "(?![\\p{L}\\p{N}_])";
const NOT_AFTER_WORD = "(?<![\\p{L}\\p{N}_])";

function wordsOf(text: string): string[] {
  return text.match(WORD) ?? [];
}

function escapeRegExp(s: string): string {
  return s.replace(/[\\^$.*+?()[\]{}|/-]/g, "\\$&");
}

/** Compiles a value to a test on the text of a text field. */
export function compileTextMatcher(value: KqlValue): (s: string) => boolean {
  switch (value.kind) {
    case "text":
      return value.quoted ? phraseMatcher(value.text) : wordsMatcher(value.text);
    case "boolean":
      return wordsMatcher(String(value.value));
    case "null":
      return wordsMatcher("null");
    case "wildcard":
      return textWildcardMatcher(value.parts);
  }
}

function wordsMatcher(text: string): (s: string) => boolean {
  const words = [...new Set(wordsOf(text))];
  if (!words.length) return substringMatcher(text);
  const res = words.map((w) => new RegExp(`${NOT_AFTER_WORD}${escapeRegExp(w)}${NOT_WORD}`, "iu"));
  if (res.length === 1) {
    const re = res[0]!;
    return (s) => re.test(s);
  }
  return (s) => res.every((re) => re.test(s));
}

function phraseMatcher(text: string): (s: string) => boolean {
  const words = wordsOf(text);
  if (!words.length) return substringMatcher(text);
  const re = new RegExp(
    `${NOT_AFTER_WORD}${words.map(escapeRegExp).join("[^\\p{L}\\p{N}_]+")}${NOT_WORD}`,
    "iu",
  );
  return (s) => re.test(s);
}

function substringMatcher(text: string): (s: string) => boolean {
  // `message: ""` would otherwise be a substring of every message; Elasticsearch matches no document with it
  // (no words). Keep it to what it says, as on keyword fields: the empty message.
  if (text === "") return (s) => s === "";
  const needle = text.toLowerCase();
  return (s) => s.toLowerCase().includes(needle);
}

function textWildcardMatcher(parts: readonly string[]): (s: string) => boolean {
  const lower = parts.map((p) => p.toLowerCase());
  const whole = compileWildcard(lower);
  // One word can only match when the literal pieces are made of word characters, and it adds nothing when
  // the pattern starts and ends with `*` (a word containing x means the message contains x).
  const wordOnly = lower.every((p) => wordsOf(p).join("") === p);
  const open = lower[0] === "" && lower[lower.length - 1] === "";
  if (!wordOnly || open) return (s) => whole(s.toLowerCase());
  return (s) => {
    const l = s.toLowerCase();
    if (whole(l)) return true;
    for (const w of wordsOf(l)) if (whole(w)) return true;
    return false;
  };
}
