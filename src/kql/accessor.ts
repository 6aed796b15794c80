/**
 * Field accessors, compiled once per field path: `source.ip` -> a function reading `e.source.ip`.
 *
 * The fast path walks nested objects with the path's segments resolved in advance (specialised closures for
 * one to three segments, no allocation). When it finds nothing, or meets an array on the way, the slow path
 * ({@link resolvePath}) answers: it also accepts flattened dotted keys at any level (`{"system.auth": {...}}`,
 * `{"event.dataset": "sshd"}`, as getField in core/event.ts does) and collects values through arrays of objects
 * (`{threat: [{id: 1}, {id: 2}]}` gives `threat.id` = [1, 2]), as Elasticsearch flattens them.
 *
 * Only own properties count: a field named `constructor` or `__proto__` never reads the prototype.
 */

export type Accessor = (obj: unknown) => unknown;
type Rec = Record<string, unknown>;

/** Arrays nested deeper than this (hostile documents) are not looked into. */
const MAX_ARRAY_DEPTH = 32;

const hasOwn = (o: object, k: string) => Object.prototype.hasOwnProperty.call(o, k);

/** True for segments a plain property read could answer from a prototype. */
function isUnsafeSegment(s: string): boolean {
  return s === "" || s === "__proto__" || hasOwn(Object.prototype, s);
}

function isRecord(v: unknown): v is Rec {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/**
 * Whether an object tree needs the slow path at all: only objects with dotted keys or arrays of objects
 * somewhere can answer a path the nested walk did not find. Computed once per top-level object (events are
 * evaluated against many fields), so a miss on an ordinary nested event costs one WeakMap lookup.
 */
const needsSlow = new WeakMap<object, boolean>();

/**
 * Set (to true) on events known to be plain nested objects with no dotted keys and no arrays of objects (every
 * event Portcullis' own parsers build): a miss then costs nothing more.
 */
export const NESTED_ONLY: unique symbol = Symbol.for("portcullis.nestedOnly");

function mayNeedSlowPath(o: unknown): boolean {
  if (o === null || typeof o !== "object") return false;
  if ((o as { [NESTED_ONLY]?: boolean })[NESTED_ONLY] === true) return false;
  let v = needsSlow.get(o);
  if (v === undefined) {
    v = scanForSlow(o, 0);
    needsSlow.set(o, v);
  }
  return v;
}
function scanForSlow(o: object, depth: number): boolean {
  if (depth > 16) return true;
  if (Array.isArray(o)) {
    for (const el of o) if (el !== null && typeof el === "object") return true;
    return false;
  }
  for (const k of Object.keys(o)) {
    if (k.indexOf(".") >= 0) return true;
    const v = (o as Rec)[k];
    if (v !== null && typeof v === "object" && scanForSlow(v, depth + 1)) return true;
  }
  return false;
}

/** Compiles the accessor for a dotted path. */
export function fieldAccessor(path: string): Accessor {
  const segs = path.split(".");
  const resolver = compileResolver(path);
  const slow: Accessor = (o) => (mayNeedSlowPath(o) ? resolver(o) : undefined);
  if (segs.some(isUnsafeSegment)) return resolver;
  if (segs.length === 1) {
    const [a] = segs as [string];
    return (o) => {
      if (isRecord(o)) {
        const v = o[a];
        if (v !== undefined) return v;
      }
      return slow(o);
    };
  }
  if (segs.length === 2) {
    const [a, b] = segs as [string, string];
    return (o) => {
      if (isRecord(o)) {
        const x = o[a];
        if (isRecord(x)) {
          const v = x[b];
          if (v !== undefined) return v;
        }
      }
      return slow(o);
    };
  }
  if (segs.length === 3) {
    const [a, b, c] = segs as [string, string, string];
    return (o) => {
      if (isRecord(o)) {
        const x = o[a];
        if (isRecord(x)) {
          const y = x[b];
          if (isRecord(y)) {
            const v = y[c];
            if (v !== undefined) return v;
          }
        }
      }
      return slow(o);
    };
  }
  return (o) => {
    let cur = o;
    for (const s of segs) {
      if (!isRecord(cur)) return slow(o);
      cur = cur[s];
    }
    return cur === undefined ? slow(o) : cur;
  };
}

/**
 * Reads a dotted path through nested objects, flattened dotted keys (every split point is tried, shortest head
 * first, like getField) and arrays (values from every element, flattened). Undefined when absent.
 */
export function resolvePath(obj: unknown, path: string): unknown {
  return compileResolver(path)(obj);
}

type Resolver = (obj: unknown, depth?: number) => unknown;

/** An own-property read: a plain read where no prototype can answer, `hasOwnProperty` otherwise. */
function ownGetter(key: string): (o: Rec) => unknown {
  if (isUnsafeSegment(key) || key === "length") return (o) => (hasOwn(o, key) ? o[key] : undefined);
  return (o) => o[key];
}

/**
 * {@link resolvePath} compiled for one path: the split points, their heads' getters and the resolvers of the
 * rests are prepared once, so a miss (the common case for optional fields) allocates nothing.
 */
function compileResolver(path: string, memo = new Map<string, Resolver>()): Resolver {
  const known = memo.get(path);
  if (known) return known;
  const whole = ownGetter(path);
  const splits: { head: (o: Rec) => unknown; rest: Resolver }[] = [];
  for (let i = path.indexOf("."); i >= 0; i = path.indexOf(".", i + 1)) {
    splits.push({ head: ownGetter(path.slice(0, i)), rest: compileResolver(path.slice(i + 1), memo) });
  }
  const resolve: Resolver = (obj, depth = 0) => {
    if (obj === null || typeof obj !== "object") return undefined;
    if (Array.isArray(obj)) {
      if (depth >= MAX_ARRAY_DEPTH) return undefined;
      const out: unknown[] = [];
      for (const el of obj) {
        const v = resolve(el, depth + 1);
        if (Array.isArray(v)) out.push(...(v as unknown[]));
        else if (v !== undefined) out.push(v);
      }
      return out.length ? out : undefined;
    }
    const rec = obj as Rec;
    const direct = whole(rec);
    if (direct !== undefined) return direct;
    for (const s of splits) {
      const h = s.head(rec);
      if (h !== undefined) {
        const v = s.rest(h, depth);
        if (v !== undefined) return v;
      }
    }
    return undefined;
  };
  memo.set(path, resolve);
  return resolve;
}

/** Largest object depth {@link forEachLeaf} descends (events are shallow; this only stops cycles). */
const MAX_WALK_DEPTH = 32;

/**
 * Calls `visit(path, value)` for every leaf of an event (values that are not plain objects; arrays of scalars
 * are leaves, arrays of objects are walked), with dotted paths; stops early when `visit` returns true.
 * `prune(path)` may skip subtrees that cannot contain wanted fields. Returns true when stopped early.
 */
export function forEachLeaf(
  obj: unknown,
  visit: (path: string, value: unknown) => boolean,
  prune: (path: string) => boolean = () => false,
  prefix = "",
  depth = 0,
): boolean {
  if (depth > MAX_WALK_DEPTH || !isRecord(obj)) return false;
  for (const key of Object.keys(obj)) {
    const path = prefix + key;
    if (prune(path)) continue;
    const v = obj[key];
    if (isRecord(v)) {
      if (forEachLeaf(v, visit, prune, `${path}.`, depth + 1)) return true;
    } else if (Array.isArray(v) && v.some(isRecord)) {
      for (const el of v) {
        if (isRecord(el) ? forEachLeaf(el, visit, prune, `${path}.`, depth + 1) : visit(path, el))
          return true;
      }
    } else if (visit(path, v)) return true;
  }
  return false;
}
