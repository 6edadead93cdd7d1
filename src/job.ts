/**
 * The job payload as Sidekiq, Verk 1.x and this library store it in Redis (see
 * `wire-format.md`): parsing, encoding, in-place field edits of stored payload
 * text, and Sidekiq's compressed backtraces. Pure functions, no Redis.
 *
 * Lossless by design: integers beyond 2^53 are read as `bigint` and written back
 * exactly, and stored payloads are edited in their text ({@link setTopLevelFields})
 * instead of being decoded and re-encoded.
 * @module
 */

/**
 * A parsed job: the known fields typed, every other key (`wrapped`, `bid`, `tags`,
 * …) kept as it was read.
 *
 * Known fields whose value is `null` or of the wrong type (for example a string
 * `retry_count`) are treated as absent: they are not on the object. Timestamps are
 * kept as stored, in seconds or milliseconds: read them with {@link epochMsOf}.
 *
 * @example
 * ```ts
 * const result = parseJob('{"class":"Mailer","args":[1],"jid":"abc","queue":"default"}');
 * if (result.ok) {
 *   const job: JobPayload = result.job;
 *   console.log(job.class, job.args, job.queue); // Mailer [ 1 ] default
 * }
 * ```
 */
export interface JobPayload {
  /** Worker name. */
  class: string;
  /** Arguments of `perform`; always an array (Verk's string form is unwrapped). */
  args: unknown[];
  /** Job id; `""` when the payload had none. */
  jid: string;
  /** Queue name. */
  queue?: string;
  /** Sidekiq's retry option: `true`, `false` or a maximum retry count. */
  retry?: boolean | number;
  /** Verk's retry limit. */
  max_retry_count?: number;
  /** Failures so far (see wire-format.md for Verk's off-by-one). */
  retry_count?: number;
  /** First enqueue, epoch seconds or milliseconds as stored. */
  created_at?: number;
  /** Latest push onto a queue, epoch seconds or milliseconds as stored. */
  enqueued_at?: number;
  /** First failure, epoch seconds or milliseconds as stored. */
  failed_at?: number;
  /** Latest failure after the first, epoch seconds or milliseconds as stored. */
  retried_at?: number;
  /** Message of the latest error. */
  error_message?: string;
  /** Name of the latest error's class. */
  error_class?: string;
  /** Sidekiq's compressed backtrace or Verk's plain one: read with {@link decodeBacktrace}. */
  error_backtrace?: string;
  /** Queue that retries of this job go to. */
  retry_queue?: string;
  /** Sidekiq's `dead` option: `false` discards the job instead of keeping it dead. */
  dead?: boolean;
  /** Sidekiq's `backtrace` option: whether (or how many lines) to keep. */
  backtrace?: boolean | number;
  /** ActiveJob's wrapped class name. */
  wrapped?: string;
  /** Verk for Deno: longest run, in seconds (beats the worker's `timeout`). */
  timeout?: number;
  /** Any other key, kept as read. */
  [key: string]: unknown;
}

/**
 * What {@link parseJob} returns: the job, or why the payload is malformed.
 *
 * @example
 * ```ts
 * const result: ParseResult = parseJob("[1]");
 * if (!result.ok) console.log(result.reason); // payload is not a JSON object
 * ```
 */
export type ParseResult = { ok: true; job: JobPayload } | { ok: false; reason: string };

type Reviver = (
  this: unknown,
  key: string,
  value: unknown,
  context?: { source?: string },
) => unknown;
const parseJsonWith = JSON.parse as (text: string, reviver?: Reviver) => unknown;
const rawJSON = (JSON as unknown as { rawJSON(text: string): unknown }).rawJSON;

/**
 * 16+ digits after `:`, `,` or `[`: the only way a JSON text can hold an unsafe
 * integer. Digit strings (Verk's jids) start after a quote and do not match.
 */
const LONG_INTEGER = /[:,[]\s*-?\d{16}/;
const INTEGER_SOURCE = /^-?\d+$/;

/** Turns integers outside the safe range into exact `bigint`s. */
const bigIntReviver: Reviver = (_key, value, context) => {
  if (typeof value === "number" && !Number.isSafeInteger(value)) {
    const source = context?.source;
    if (source !== undefined && INTEGER_SOURCE.test(source)) return BigInt(source);
  }
  return value;
};

function parseLossless(text: string): unknown {
  return LONG_INTEGER.test(text) ? parseJsonWith(text, bigIntReviver) : JSON.parse(text);
}

const STRING = 1;
const NUMBER = 2;
const BOOLEAN = 4;
/** Known optional fields and the value kinds each accepts. */
const KNOWN_FIELDS: ReadonlyMap<string, number> = new Map([
  ["queue", STRING],
  ["retry", BOOLEAN | NUMBER],
  ["max_retry_count", NUMBER],
  ["retry_count", NUMBER],
  ["created_at", NUMBER],
  ["enqueued_at", NUMBER],
  ["failed_at", NUMBER],
  ["retried_at", NUMBER],
  ["error_message", STRING],
  ["error_class", STRING],
  ["error_backtrace", STRING],
  ["retry_queue", STRING],
  ["dead", BOOLEAN],
  ["backtrace", BOOLEAN | NUMBER],
  ["wrapped", STRING],
  ["timeout", NUMBER],
]);

function kindOf(value: unknown): number {
  switch (typeof value) {
    case "string":
      return STRING;
    case "number":
      return Number.isFinite(value) ? NUMBER : 0;
    case "boolean":
      return BOOLEAN;
    default:
      return 0;
  }
}

const encoder = new TextEncoder();

/**
 * Parses one payload text read from Redis. Never throws.
 *
 * Malformed (`ok: false`, with a reason naming the problem) when the text is over
 * `maxPayloadBytes` UTF-8 bytes, is not JSON, is not a JSON object, has no `class`
 * (or one that is not a non-empty string), or has `args` that is neither an array
 * nor a string holding a JSON array (missing `args` included).
 *
 * Integers outside the safe range become `bigint`, anywhere in the payload. Known
 * fields that are `null` or of the wrong type are dropped; a numeric `jid` is
 * turned into its digit string, a missing (or non-string, non-number) one into `""`.
 *
 * @example
 * ```ts
 * const result = parseJob('{"class":"Sync","args":"[12345678901234567890]","jid":42}');
 * if (result.ok) console.log(result.job.args, result.job.jid); // [ 12345678901234567890n ] "42"
 * else console.error(result.reason);
 * ```
 */
export function parseJob(text: string, maxPayloadBytes?: number): ParseResult {
  if (maxPayloadBytes !== undefined && text.length * 3 > maxPayloadBytes) {
    // Over for sure when text.length > maxPayloadBytes (a UTF-16 unit is 1+ UTF-8
    // bytes); measured anyway so the reason states the size. Rare path.
    const bytes = encoder.encode(text).length;
    if (bytes > maxPayloadBytes) {
      return {
        ok: false,
        reason: `payload is ${bytes} bytes, over maxPayloadBytes ${maxPayloadBytes}`,
      };
    }
  }
  let parsed: unknown;
  try {
    parsed = parseLossless(text);
  } catch (error) {
    return {
      ok: false,
      reason: `payload is not valid JSON: ${error instanceof Error ? error.message : error}`,
    };
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    return { ok: false, reason: "payload is not a JSON object" };
  }
  const job = parsed as Record<string, unknown>;
  const cls = job.class;
  if (typeof cls !== "string" || cls === "") {
    return {
      ok: false,
      reason: cls === undefined || cls === null
        ? "payload has no class"
        : "payload class is not a non-empty string",
    };
  }
  let args = job.args;
  if (typeof args === "string") {
    try {
      args = parseLossless(args);
    } catch {
      // reported below
    }
  }
  if (!Array.isArray(args)) {
    return { ok: false, reason: "args is not an array (nor a string holding a JSON array)" };
  }
  job.args = args;
  const jid = job.jid;
  if (typeof jid !== "string") {
    job.jid = typeof jid === "number" || typeof jid === "bigint" ? String(jid) : "";
  }
  for (const name in job) {
    const kinds = KNOWN_FIELDS.get(name);
    if (kinds !== undefined && (kindOf(job[name]) & kinds) === 0) delete job[name];
  }
  return { ok: true, job: job as JobPayload };
}

const HEX: readonly string[] = Array.from(
  { length: 256 },
  (_, byte) => byte.toString(16).padStart(2, "0"),
);
const jidBytes = new Uint8Array(12);

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Parses a payload read from Redis as exact bytes. Also returns its text: the
 * UTF-8 text, or for bytes that are not valid UTF-8 (malformed) a Latin-1
 * reading that keeps every byte visible.
 *
 * @example
 * ```ts
 * const { text, result } = parseJobBytes(new TextEncoder().encode('{"class":"A","args":[]}'));
 * console.log(text, result.ok); // {"class":"A","args":[]} true
 * ```
 */
export function parseJobBytes(
  raw: Uint8Array,
  maxPayloadBytes?: number,
): { text: string; result: ParseResult } {
  let text: string;
  try {
    text = utf8.decode(raw);
  } catch {
    text = Array.from(raw, (byte) => String.fromCharCode(byte)).join("");
    return { text, result: { ok: false, reason: "payload is not valid UTF-8" } };
  }
  return { text, result: parseJob(text, maxPayloadBytes) };
}

/**
 * A new job id: 24 lowercase hex characters from 12 random bytes, as Sidekiq makes.
 *
 * @example
 * ```ts
 * const jid = newJid(); // e.g. "9f1c2e7a0b3d4c5e6f708192"
 * ```
 */
export function newJid(): string {
  crypto.getRandomValues(jidBytes);
  let jid = "";
  for (let i = 0; i < 12; i++) jid += HEX[jidBytes[i]!]!;
  return jid;
}

/**
 * Epoch milliseconds as the JSON number text of epoch seconds, always with a
 * fractional part (Sidekiq 8 reads an integer timestamp as milliseconds).
 * Throws `RangeError` for a value that is not finite.
 *
 * @example
 * ```ts
 * jsonEpoch(1796300422883); // "1796300422.883"
 * jsonEpoch(1796300422000); // "1796300422.0"
 * ```
 */
export function jsonEpoch(ms: number): string {
  if (!Number.isFinite(ms)) throw new RangeError(`jsonEpoch: ${ms} is not a finite time`);
  const text = String(ms / 1000);
  // An integer prints without "." (and "e" only outside any real timestamp range).
  return text.includes(".") || text.includes("e") ? text : text + ".0";
}

/**
 * A stored timestamp, in epoch seconds or milliseconds (a value above 1e11 is
 * milliseconds), as epoch milliseconds.
 *
 * @example
 * ```ts
 * epochMsOf(1796300422.883); // 1796300422883
 * epochMsOf(1796300422883); // 1796300422883
 * ```
 */
export function epochMsOf(value: number): number {
  return value > 1e11 ? value : value * 1000;
}

/**
 * JSON.stringify that writes `bigint` as exact integers, for reports (the CLI's
 * `--json`): unlike {@link encodeJson} it lets dates become ISO strings.
 *
 * @example
 * ```ts
 * jsonWithBigInts({ n: 12345678901234567890n, at: new Date(0) });
 * // {"n":12345678901234567890,"at":"1970-01-01T00:00:00.000Z"}
 * ```
 */
export function jsonWithBigInts(value: unknown): string {
  return JSON.stringify(
    value,
    (_key, item) => typeof item === "bigint" ? rawJSON(String(item)) : item,
  );
}

/** Thrown inside the replacer; turned into a TypeError naming the path. */
const UNENCODABLE = Symbol("unencodable");

function bigIntReplacer(this: Record<string, unknown>, key: string, value: unknown): unknown {
  switch (typeof value) {
    case "bigint":
      return rawJSON(value.toString());
    case "function":
    case "symbol":
      throw UNENCODABLE;
    case "number":
      if (!Number.isFinite(value)) throw UNENCODABLE;
      return value;
    case "string":
      // A Date arrives here already turned into a string by its toJSON.
      if (this[key] instanceof Date) throw UNENCODABLE;
      return value;
    case "object":
      if (notPlain(value)) throw UNENCODABLE;
      return value;
    default:
      return value;
  }
}

/** Objects JSON would silently change: a Map or a Set becomes {}, a class instance loses its type. */
function notPlain(value: object | null): boolean {
  if (value === null || Array.isArray(value)) return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype !== Object.prototype && prototype !== null;
}

function describe(value: unknown): string | undefined {
  switch (typeof value) {
    case "function":
      return "a function";
    case "symbol":
      return "a symbol";
    case "number":
      return Number.isFinite(value) ? undefined : String(value);
    default:
      return undefined;
  }
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/** Slow path, after a failure: walks `value` as JSON.stringify does to name the culprit. */
function findUnencodable(value: unknown, key: string, path: string): string | undefined {
  if (value instanceof Date) return `a Date at ${path} (pass value.toISOString() or a number)`;
  if (typeof value === "object" && notPlain(value)) {
    return `a ${
      value!.constructor?.name ?? "non-plain object"
    } at ${path} (only plain objects and arrays)`;
  }
  if (
    typeof value === "object" && value !== null &&
    typeof (value as { toJSON?: unknown }).toJSON === "function"
  ) {
    value = (value as { toJSON(key: string): unknown }).toJSON(key);
  }
  const bad = describe(value);
  if (bad !== undefined) return `${bad} at ${path}`;
  if (typeof value !== "object" || value === null) return undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findUnencodable(value[i], String(i), `${path}[${i}]`);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  for (const name of Object.keys(value)) {
    const child = IDENTIFIER.test(name) ? `${path}.${name}` : `${path}[${JSON.stringify(name)}]`;
    const found = findUnencodable((value as Record<string, unknown>)[name], name, child);
    if (found !== undefined) return found;
  }
  return undefined;
}

function encodeAt(value: unknown, root: string): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value, bigIntReplacer);
  } catch (error) {
    if (error !== UNENCODABLE) throw error;
    const found = findUnencodable(value, "", root) ?? `a value at ${root}`;
    throw new TypeError(`cannot encode as JSON: ${found}`);
  }
  if (text === undefined) throw new TypeError(`cannot encode as JSON: ${root} is undefined`);
  return text;
}

/**
 * `JSON.stringify` that writes `bigint`s as exact integers and everything else as
 * `JSON.stringify` does (`undefined` in an object drops the key, in an array it
 * becomes `null`). Throws `TypeError` naming the path (`$.args[1].cb`) of a value
 * JSON cannot hold: a function, a symbol, `NaN` or an infinity; also when `value`
 * itself is `undefined`.
 *
 * @example
 * ```ts
 * encodeJson({ id: 12345678901234567890n, tags: ["a/b"] }); // '{"id":12345678901234567890,"tags":["a/b"]}'
 * encodeJson([() => 1]); // throws TypeError: cannot encode as JSON: a function at $[0]
 * ```
 */
export function encodeJson(value: unknown): string {
  return encodeAt(value, "$");
}

/**
 * A job to write for the first time, given to {@link encodeNewJob}.
 *
 * @example
 * ```ts
 * const job: NewJob = { class: "Mailer", queue: "default", args: [1], jid: newJid(), retry: 5, maxRetryCount: 5 };
 * ```
 */
export interface NewJob {
  /** Worker name. */
  class: string;
  /** Queue name. */
  queue: string;
  /** Arguments of `perform`. */
  args: unknown[];
  /** Job id. */
  jid: string;
  /** Always written: `true` (no limit given), `false` or the maximum retry count. */
  retry: boolean | number;
  /** Written as `max_retry_count` when given. */
  maxRetryCount?: number;
  /** Other keys written as given (`retry_queue`, `backtrace`, `wrapped`, …); `undefined` values are skipped. */
  extra?: Record<string, unknown>;
}

const NEW_JOB_KEYS = new Set([
  "class",
  "args",
  "jid",
  "queue",
  "retry",
  "max_retry_count",
  "created_at",
  "enqueued_at",
]);

/**
 * The payload text of a new job, keys in this order: `class`, `args`, `jid`,
 * `queue`, `retry`, `max_retry_count` (when given), `created_at`, `enqueued_at`
 * (omitted when `enqueuedAtMs` is undefined: a scheduled job gets it when it is
 * moved to its queue), then the `extra` keys. Times are epoch milliseconds,
 * written as seconds by {@link jsonEpoch}.
 *
 * Throws `TypeError` when a field has the wrong type, when an `extra` key is one
 * of the keys above, or when a value cannot be encoded (see {@link encodeJson}).
 *
 * @example
 * ```ts
 * const text = encodeNewJob(
 *   { class: "Mailer", queue: "default", args: [1, 2], jid: "9f1c2e7a0b3d4c5e6f708192", retry: true },
 *   1796300422883,
 *   1796300422883,
 * );
 * // {"class":"Mailer","args":[1,2],"jid":"9f1c2e7a0b3d4c5e6f708192","queue":"default","retry":true,
 * //  "created_at":1796300422.883,"enqueued_at":1796300422.883}   (one line)
 * ```
 */
export function encodeNewJob(job: NewJob, createdAtMs: number, enqueuedAtMs?: number): string {
  if (typeof job.class !== "string" || job.class === "") {
    throw new TypeError("job.class must be a non-empty string");
  }
  if (!Array.isArray(job.args)) throw new TypeError("job.args must be an array");
  if (typeof job.jid !== "string") throw new TypeError("job.jid must be a string");
  if (typeof job.queue !== "string") throw new TypeError("job.queue must be a string");
  const retry = job.retry;
  if (typeof retry !== "boolean" && !Number.isFinite(retry)) {
    throw new TypeError("job.retry must be a boolean or a finite number");
  }
  let text = `{"class":${JSON.stringify(job.class)},"args":${encodeAt(job.args, "args")},"jid":${
    JSON.stringify(job.jid)
  },"queue":${JSON.stringify(job.queue)},"retry":${retry}`;
  if (job.maxRetryCount !== undefined) {
    if (!Number.isFinite(job.maxRetryCount)) {
      throw new TypeError("job.maxRetryCount must be a finite number");
    }
    text += `,"max_retry_count":${job.maxRetryCount}`;
  }
  text += `,"created_at":${jsonEpoch(createdAtMs)}`;
  if (enqueuedAtMs !== undefined) text += `,"enqueued_at":${jsonEpoch(enqueuedAtMs)}`;
  const extra = job.extra;
  if (extra !== undefined) {
    for (const key of Object.keys(extra)) {
      const value = extra[key];
      if (value === undefined) continue;
      if (NEW_JOB_KEYS.has(key)) {
        throw new TypeError(`job.extra.${key} would overwrite a field written by encodeNewJob`);
      }
      text += `,${JSON.stringify(key)}:${encodeAt(value, `extra[${JSON.stringify(key)}]`)}`;
    }
  }
  return text + "}";
}

function notAnObject(what: string, at: number): never {
  throw new SyntaxError(`setTopLevelFields: not a JSON object: ${what} at position ${at}`);
}

function skipSpace(text: string, i: number): number {
  for (;;) {
    const c = text.charCodeAt(i);
    if (c === 32 || c === 10 || c === 13 || c === 9) i++;
    else return i;
  }
}

/** `i` is at an opening quote; returns the index just past the closing one. */
function stringEnd(text: string, i: number): number {
  let from = i + 1;
  for (;;) {
    const quote = text.indexOf('"', from);
    if (quote < 0) notAnObject("unterminated string", i);
    let before = quote - 1;
    while (text.charCodeAt(before) === 92) before--;
    if ((quote - 1 - before) % 2 === 0) return quote + 1; // even run of backslashes
    from = quote + 1;
  }
}

/** Quotes and brackets: all that matters inside a nested value. */
const STRUCTURAL = /["[\]{}]/g;
const PRIMITIVE = /^(?:true|false|null|-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?)$/;

/** `i` is at the first character of a value; returns the index just past it. */
function valueEnd(text: string, i: number): number {
  const first = text.charCodeAt(i);
  if (first === 34) return stringEnd(text, i);
  if (first === 123 || first === 91) {
    const closers: number[] = [];
    let from = i;
    for (;;) {
      STRUCTURAL.lastIndex = from;
      if (!STRUCTURAL.test(text)) notAnObject("unterminated value", i);
      const at = STRUCTURAL.lastIndex - 1;
      const c = text.charCodeAt(at);
      if (c === 34) {
        from = stringEnd(text, at);
        continue;
      }
      if (c === 123) closers.push(125);
      else if (c === 91) closers.push(93);
      else {
        if (closers.pop() !== c) notAnObject("mismatched bracket", at);
        if (closers.length === 0) return at + 1;
      }
      from = at + 1;
    }
  }
  let end = i;
  for (;;) {
    const c = text.charCodeAt(end);
    if (c === 44 || c === 125 || c === 93 || c === 32 || c === 10 || c === 13 || c === 9) break;
    if (Number.isNaN(c)) break;
    end++;
  }
  if (!PRIMITIVE.test(text.slice(i, end))) notAnObject("invalid value", i);
  return end;
}

/**
 * Edits top-level keys of a JSON object text without re-encoding anything else.
 * Each key of `fields` maps to the raw JSON text to set (replacing the existing
 * value, or appended before the closing brace when the key is absent) or to
 * `undefined` to remove the key. Every other byte of `text` stays as it was, so
 * big integers, `\u00e9` escapes, `"a/b"`, `[]` and `{}` survive untouched.
 *
 * The values in `fields` are trusted to be valid JSON text (make them with
 * `JSON.stringify`, {@link encodeJson} or {@link jsonEpoch}). A key that occurs
 * more than once in `text` is edited at every occurrence: each is replaced, or
 * each is removed. Linear in the length of `text`.
 *
 * Throws `SyntaxError` when `text` is not a JSON object. The top level is checked
 * fully; inside nested values only strings and bracket matching are checked.
 *
 * @example
 * ```ts
 * setTopLevelFields('{"class":"A","args":[9007199254740993],"retry_count":0}', {
 *   retry_count: "1",
 *   failed_at: jsonEpoch(Date.now()),
 *   error_backtrace: undefined,
 * });
 * // '{"class":"A","args":[9007199254740993],"retry_count":1,"failed_at":1796300422.883}'
 * ```
 */
export function setTopLevelFields(
  text: string,
  fields: Record<string, string | undefined>,
): string {
  let i = skipSpace(text, 0);
  if (text.charCodeAt(i) !== 123) notAnObject("expected '{'", i);
  // Per entry: where its key starts, where its value starts and ends.
  const keyStarts: number[] = [];
  const valueStarts: number[] = [];
  const valueEnds: number[] = [];
  const keys: string[] = [];
  i = skipSpace(text, i + 1);
  let close: number;
  if (text.charCodeAt(i) === 125) {
    close = i;
  } else {
    for (;;) {
      if (text.charCodeAt(i) !== 34) notAnObject("expected a key", i);
      const keyEnd = stringEnd(text, i);
      let key = text.slice(i + 1, keyEnd - 1);
      if (key.includes("\\")) key = JSON.parse(text.slice(i, keyEnd)) as string;
      let at = skipSpace(text, keyEnd);
      if (text.charCodeAt(at) !== 58) notAnObject("expected ':'", at);
      at = skipSpace(text, at + 1);
      const end = valueEnd(text, at);
      keyStarts.push(i);
      valueStarts.push(at);
      valueEnds.push(end);
      keys.push(key);
      i = skipSpace(text, end);
      const c = text.charCodeAt(i);
      if (c === 44) {
        i = skipSpace(text, i + 1);
      } else if (c === 125) {
        close = i;
        break;
      } else {
        notAnObject("expected ',' or '}'", i);
      }
    }
  }
  if (skipSpace(text, close + 1) !== text.length) notAnObject("text after the object", close + 1);

  const count = keys.length;
  let found: Set<string> | undefined;
  for (let k = 0; k < count; k++) {
    if (Object.hasOwn(fields, keys[k]!)) (found ??= new Set()).add(keys[k]!);
  }
  let appendAny = false;
  for (const key in fields) {
    if (Object.hasOwn(fields, key) && fields[key] !== undefined && !found?.has(key)) {
      appendAny = true;
      break;
    }
  }
  if (found === undefined && !appendAny) return text;

  let out = text.slice(0, count === 0 ? close : keyStarts[0]);
  let kept = 0;
  for (let k = 0; k < count; k++) {
    const key = keys[k]!;
    const edit = Object.hasOwn(fields, key);
    const raw = edit ? fields[key] : undefined;
    if (edit && raw === undefined) continue; // removed with the separator before it
    if (kept > 0) out += text.slice(valueEnds[k - 1], keyStarts[k]); // original ", "
    out += edit
      ? text.slice(keyStarts[k], valueStarts[k]) + raw
      : text.slice(keyStarts[k], valueEnds[k]);
    kept++;
  }
  if (appendAny) {
    for (const key in fields) {
      if (!Object.hasOwn(fields, key) || found?.has(key)) continue;
      const raw = fields[key];
      if (raw === undefined) continue;
      out += `${kept > 0 ? "," : ""}${JSON.stringify(key)}:${raw}`;
      kept++;
    }
  }
  return out + text.slice(count === 0 ? close : valueEnds[count - 1]);
}

const toBase64 = (bytes: Uint8Array): string =>
  (bytes as unknown as { toBase64(): string }).toBase64();
const fromBase64 = (text: string): Uint8Array =>
  (Uint8Array as unknown as { fromBase64(text: string): Uint8Array }).fromBase64(text);

/**
 * Sidekiq's `error_backtrace`: base64 of a zlib stream (RFC 1950, which Ruby's
 * `Zlib::Inflate` reads) of the JSON array of lines. Pass the lines to keep
 * (Sidekiq keeps the first N).
 *
 * @example
 * ```ts
 * const stack = new Error("boom").stack ?? "";
 * const backtrace = await encodeBacktrace(stack.split("\n").slice(1, 21));
 * ```
 */
export async function encodeBacktrace(lines: string[]): Promise<string> {
  const stream = new Blob([JSON.stringify(lines)]).stream()
    .pipeThrough(new CompressionStream("deflate"));
  return toBase64(new Uint8Array(await new Response(stream).arrayBuffer()));
}

const BASE64 = /^[A-Za-z0-9+/=\s]+$/;

async function decodeSidekiqBacktrace(value: string): Promise<string[] | undefined> {
  if (!BASE64.test(value)) return undefined;
  const bytes = fromBase64(value);
  const b0 = bytes[0];
  const b1 = bytes[1];
  // zlib header: method 8 (deflate), header checksum divisible by 31.
  if (b0 === undefined || b1 === undefined || (b0 & 0x0f) !== 8 || ((b0 << 8) | b1) % 31 !== 0) {
    return undefined;
  }
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream()
    .pipeThrough(new DecompressionStream("deflate"));
  const parsed: unknown = JSON.parse(await new Response(stream).text());
  if (!Array.isArray(parsed)) return undefined;
  return parsed.map((line) => typeof line === "string" ? line : String(line));
}

/**
 * Decodes an `error_backtrace`: Sidekiq's base64 zlib JSON array, or anything else
 * (Verk's plain string) as its lines split on `\n`; `""` gives `[]`. Never throws
 * (nor rejects): text that is not Sidekiq's format comes back as its lines, a
 * single-line text as `[text]`.
 *
 * @example
 * ```ts
 * await decodeBacktrace(await encodeBacktrace(["a.ts:1", "b.ts:2"])); // ["a.ts:1", "b.ts:2"]
 * await decodeBacktrace("lib/a.ex:1\nlib/b.ex:2"); // ["lib/a.ex:1", "lib/b.ex:2"]
 * ```
 */
export async function decodeBacktrace(value: string): Promise<string[]> {
  try {
    const lines = await decodeSidekiqBacktrace(value);
    if (lines !== undefined) return lines;
  } catch {
    // not Sidekiq's format: a plain-text backtrace
  }
  return value === "" ? [] : value.split("\n");
}

/**
 * The dead-set member for a payload that could not be parsed, wrapped so Sidekiq's
 * tools can show it: the original text is `args[0]` (as a JSON string, so nothing
 * of it is lost), `reason` is the `error_message`, `nowMs` (epoch ms) the
 * `failed_at`, and the job gets a new jid.
 *
 * @example
 * ```ts
 * const member = malformedJobPayload("{oops", "default", "payload is not valid JSON", Date.now());
 * // {"class":"Verk::MalformedJob","args":["{oops"],"jid":"…","queue":"default",
 * //  "error_class":"MalformedJob","error_message":"payload is not valid JSON",
 * //  "failed_at":1796300422.883,"retry":false}   (one line)
 * ```
 */
export function malformedJobPayload(
  original: string,
  queue: string,
  reason: string,
  nowMs: number,
): string {
  return `{"class":"Verk::MalformedJob","args":[${JSON.stringify(original)}],"jid":"${newJid()}",` +
    `"queue":${JSON.stringify(queue)},"error_class":"MalformedJob","error_message":${
      JSON.stringify(reason)
    },"failed_at":${jsonEpoch(nowMs)},"retry":false}`;
}
