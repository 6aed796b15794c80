/**
 * Is an input a text log at all? A binary file given by mistake (`/var/log/wtmp`, a journal file, an `.xz`
 * rotated log, a program) would otherwise be read as a few lines of garbage that no parser recognises, and
 * `replay` would report "0 events" as if the log held no attack. Judged once, on the first bytes of the input
 * (after gzip decompression), so a text log with a few NUL bytes or some invalid UTF-8 is still read.
 */

/**
 * Formats a log can plausibly be found in that are not text, each with what to do instead; matched on the first
 * bytes read as latin1 (one character per byte).
 */
const SIGNATURES: { magic: RegExp; what: string }[] = [
  {
    magic: /^LPKSHHRH/,
    what: "a systemd journal file (read it through journalctl: journalctl --file FILE -o json | portcullis replay -)",
  },
  { magic: /^\xfd7zXZ\x00/, what: compressed("xz") },
  { magic: /^\x28\xb5\x2f\xfd/, what: compressed("zstd") },
  { magic: /^\x04\x22\x4d\x18/, what: compressed("lz4") },
  { magic: /^PK\x03\x04/, what: "a zip archive (extract it: unzip -p FILE | portcullis replay -)" },
  // "BZh", the block size, then the first block's magic (all printable: "BZh" alone could start a text line).
  { magic: /^BZh[1-9]1AY&SY/, what: compressed("bzip2") },
  {
    magic: /^(?:\xff\xfe|\xfe\xff)/,
    what: "UTF-16 text (convert it: iconv -f UTF-16 -t UTF-8 FILE | portcullis replay -)",
  },
];

function compressed(tool: string): string {
  return `${tool}-compressed data (decompress it: ${tool} -dc FILE | portcullis replay -)`;
}

/** Bytes of an input judged: the first read's. */
const SAMPLE_BYTES = 1 << 16;

/**
 * A run of NUL bytes at least this long is padding, not data: a log file after a crash or power loss often
 * holds blocks of zeros (allocated, never written), which must not make it "binary". Binary formats have
 * short runs (the high bytes of integers, the end of a fixed-size string field).
 */
const PADDING_RUN = 32;

/** Tab, LF, VT, FF, CR, and ESC (ANSI colors). */
const TEXT_CONTROL = new Set([0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x1b]);

/** Below this many odd bytes an input is text whatever their share (a short log with one bad line). */
const MIN_ODD = 16;

/**
 * Why `sample` (the first bytes of the input `path`) is not a text log, or undefined if it is one. Binary: a known
 * signature, or more than 5% of the bytes are control characters (other than tab, line breaks, form feed and
 * ESC, which colored output has) or short NUL runs: random or compressed data has about 10%, a program or wtmp
 * far more, a text log none. Bytes above 0x7f are not counted, valid UTF-8 or not: a latin1 or cp1251 log is
 * text, and they are what a sender can most easily put into a log (rsyslog passes 8-bit bytes on, Traefik writes
 * a Basic user name as decoded), so they must not let anyone get a log refused. `--text` reads an input anyway.
 */
export function notTextReason(sample: Buffer, path: string): string | undefined {
  const bytes = sample.subarray(0, SAMPLE_BYTES);
  const head = bytes.toString("latin1", 0, 16);
  for (const { magic, what } of SIGNATURES) if (magic.test(head)) return what.replace("FILE", path);
  let odd = 0;
  let counted = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b === 0) {
      let end = i + 1;
      while (end < bytes.length && bytes[end] === 0) end++;
      if (end - i < PADDING_RUN) {
        odd += end - i;
        counted += end - i;
      }
      i = end - 1;
      continue;
    }
    counted++;
    if (b < 0x20 ? !TEXT_CONTROL.has(b) : b === 0x7f) odd++;
  }
  if (odd >= MIN_ODD && odd * 20 > counted) {
    const share = Math.round((odd / counted) * 100);
    return `binary data, not a text log (${share}% of its first bytes are control characters; --text reads it anyway)`;
  }
  return undefined;
}
