import assert from "node:assert/strict";
import { deflateSync, inflateSync } from "node:zlib";
import {
  decodeBacktrace,
  encodeBacktrace,
  encodeJson,
  encodeNewJob,
  epochMsOf,
  type JobPayload,
  jsonEpoch,
  malformedJobPayload,
  newJid,
  parseJob,
  setTopLevelFields,
} from "../src/job.ts";

function parseOk(text: string, maxPayloadBytes?: number): JobPayload {
  const result = parseJob(text, maxPayloadBytes);
  if (!result.ok) assert.fail(`expected ok, got: ${result.reason}`);
  return result.job;
}

function parseReason(text: string, maxPayloadBytes?: number): string {
  const result = parseJob(text, maxPayloadBytes);
  if (result.ok) assert.fail(`expected malformed, got ${JSON.stringify(text)} parsed`);
  return result.reason;
}

// ---------------------------------------------------------------- parseJob

Deno.test("parseJob reads a Sidekiq payload and keeps unknown keys", () => {
  const text = String
    .raw`{"retry":5,"queue":"mailers","wrapped":"SendMail","args":[{"job_class":"SendMail","arguments":[1]}],"class":"ActiveJob::QueueAdapters::SidekiqAdapter::JobWrapper","jid":"9f1c2e7a0b3d4c5e6f708192","created_at":1796300422.883,"enqueued_at":1796300423.5,"bid":"b-1","tags":["x"],"backtrace":10}`;
  assert.deepEqual(parseOk(text), {
    retry: 5,
    queue: "mailers",
    wrapped: "SendMail",
    args: [{ job_class: "SendMail", arguments: [1] }],
    class: "ActiveJob::QueueAdapters::SidekiqAdapter::JobWrapper",
    jid: "9f1c2e7a0b3d4c5e6f708192",
    created_at: 1796300422.883,
    enqueued_at: 1796300423.5,
    bid: "b-1",
    tags: ["x"],
    backtrace: 10,
  });
});

Deno.test("parseJob reads a Verk 1.x payload: string args unwrapped, nulls of known fields dropped", () => {
  const text = String
    .raw`{"queue":"default","max_retry_count":5,"jid":"170141183460469231731","finished_at":null,"failed_at":null,"retried_at":null,"error_message":null,"error_backtrace":null,"enqueued_at":1796300422,"class":"MyWorker","args":"[1,2]","retry_count":1,"original_json":null}`;
  const job = parseOk(text);
  assert.deepEqual(job, {
    queue: "default",
    max_retry_count: 5,
    jid: "170141183460469231731",
    finished_at: null, // not a known field: kept as read
    enqueued_at: 1796300422,
    class: "MyWorker",
    args: [1, 2],
    retry_count: 1,
    original_json: null,
  });
  assert.equal("failed_at" in job, false);
  assert.equal("error_message" in job, false);
  assert.equal(epochMsOf(job.enqueued_at!), 1796300422000);
});

Deno.test("parseJob turns a numeric jid into its digit string", () => {
  assert.equal(parseOk(`{"class":"W","args":[],"jid":4242}`).jid, "4242");
  assert.equal(
    parseOk(`{"class":"W","args":[],"jid":12345678901234567890}`).jid,
    "12345678901234567890",
  );
});

Deno.test("parseJob gives an empty jid when the payload has none", () => {
  assert.equal(parseOk(`{"class":"W","args":[]}`).jid, "");
  assert.equal(parseOk(`{"class":"W","args":[],"jid":null}`).jid, "");
});

Deno.test("parseJob drops known fields of the wrong type", () => {
  const job = parseOk(`{"class":"W","args":[],"retry_count":"3","retry":"yes","queue":7,"dead":0}`);
  assert.deepEqual(job, { class: "W", args: [], jid: "" });
});

Deno.test("parseJob reports text that is not JSON", () => {
  assert.match(parseReason(`{"class":"W",`), /^payload is not valid JSON: .+/);
  assert.match(parseReason(""), /^payload is not valid JSON: /);
});

Deno.test("parseJob reports JSON that is not an object", () => {
  for (const text of ["[1]", "null", `"job"`, "42", "true"]) {
    assert.equal(parseReason(text), "payload is not a JSON object", text);
  }
});

Deno.test("parseJob reports a missing class", () => {
  assert.equal(parseReason(`{"args":[]}`), "payload has no class");
  assert.equal(parseReason(`{"class":null,"args":[]}`), "payload has no class");
});

Deno.test("parseJob reports a class that is not a non-empty string", () => {
  assert.equal(parseReason(`{"class":"","args":[]}`), "payload class is not a non-empty string");
  assert.equal(parseReason(`{"class":7,"args":[]}`), "payload class is not a non-empty string");
});

Deno.test("parseJob reports args that are neither an array nor a string holding one", () => {
  const reason = "args is not an array (nor a string holding a JSON array)";
  assert.equal(parseReason(`{"class":"W"}`), reason);
  assert.equal(parseReason(`{"class":"W","args":null}`), reason);
  assert.equal(parseReason(`{"class":"W","args":{"a":1}}`), reason);
  assert.equal(parseReason(`{"class":"W","args":"not json"}`), reason);
  assert.equal(parseReason(String.raw`{"class":"W","args":"{\"a\":1}"}`), reason);
  assert.equal(parseReason(`{"class":"W","args":5}`), reason);
});

Deno.test("parseJob reads integers beyond 2^53 as exact bigints, negative ones too", () => {
  const text =
    `{"class":"W","args":[12345678901234567890,-12345678901234567890,9007199254740993,9007199254740991,{"id":99999999999999999999}],"jid":"j","n":-9007199254740993}`;
  const job = parseOk(text);
  assert.deepEqual(job.args, [
    12345678901234567890n,
    -12345678901234567890n,
    9007199254740993n,
    9007199254740991, // safe: stays a number
    { id: 99999999999999999999n },
  ]);
  assert.equal(job.n, -9007199254740993n);
});

Deno.test("parseJob finds big integers after whitespace and in pretty-printed JSON", () => {
  const text =
    `{ "class": "W",\n  "args": [ 1,\t12345678901234567890 ],\n  "x" :\n -12345678901234567890 }`;
  const job = parseOk(text);
  assert.deepEqual(job.args, [1, 12345678901234567890n]);
  assert.equal(job.x, -12345678901234567890n);
});

Deno.test("parseJob keeps long floats and exponents as numbers", () => {
  const job = parseOk(`{"class":"W","args":[1234567890123456789.5,1e300,0.12345678901234567]}`);
  assert.deepEqual(job.args, [1234567890123456789.5, 1e300, 0.12345678901234567]);
});

Deno.test("parseJob reads big integers inside Verk's string args as bigints", () => {
  const job = parseOk(`{"class":"W","args":"[18446744073709551615,1]"}`);
  assert.deepEqual(job.args, [18446744073709551615n, 1]);
});

Deno.test("parseJob refuses a payload over maxPayloadBytes and names both sizes", () => {
  const text = `{"class":"W","args":["${"x".repeat(100)}"]}`; // 125 bytes
  assert.equal(text.length, 125);
  assert.equal(parseReason(text, 124), "payload is 125 bytes, over maxPayloadBytes 124");
  assert.equal(parseOk(text, 125).class, "W");
  assert.equal(parseOk(text, 1000).class, "W");
});

Deno.test("parseJob measures maxPayloadBytes in UTF-8 bytes, not characters", () => {
  const text = `{"class":"W","args":["${"é".repeat(50)}"]}`; // 75 chars, 125 bytes
  assert.equal(text.length, 75);
  assert.equal(parseReason(text, 124), "payload is 125 bytes, over maxPayloadBytes 124");
  assert.deepEqual(parseOk(text, 125).args, ["é".repeat(50)]);
});

Deno.test("parseJob without maxPayloadBytes accepts any size", () => {
  const text = `{"class":"W","args":["${"x".repeat(100_000)}"]}`;
  assert.equal(parseOk(text).class, "W");
});

// ---------------------------------------------------------------- newJid

Deno.test("newJid gives 24 lowercase hex characters, different each time", () => {
  const jids = new Set<string>();
  for (let i = 0; i < 1000; i++) {
    const jid = newJid();
    assert.match(jid, /^[0-9a-f]{24}$/);
    jids.add(jid);
  }
  assert.equal(jids.size, 1000);
});

// ---------------------------------------------------------------- timestamps

Deno.test("jsonEpoch writes seconds with a fractional part", () => {
  assert.equal(jsonEpoch(1796300422883), "1796300422.883");
  assert.equal(jsonEpoch(1796300422000), "1796300422.0");
  assert.equal(jsonEpoch(1796300422880), "1796300422.88");
  assert.equal(jsonEpoch(1796300422001), "1796300422.001");
  assert.equal(jsonEpoch(0), "0.0");
  assert.equal(JSON.parse(jsonEpoch(1796300422883)), 1796300422.883);
});

Deno.test("jsonEpoch refuses a time that is not finite", () => {
  assert.throws(() => jsonEpoch(NaN), RangeError);
  assert.throws(() => jsonEpoch(Infinity), RangeError);
});

Deno.test("epochMsOf reads seconds and milliseconds", () => {
  assert.equal(epochMsOf(1796300422), 1796300422000);
  assert.equal(epochMsOf(1796300422.883), 1796300422883);
  assert.equal(epochMsOf(1796300422883), 1796300422883);
  assert.equal(epochMsOf(1e11), 1e14); // at the boundary: still seconds
  assert.equal(epochMsOf(1e11 + 1), 1e11 + 1);
});

// ---------------------------------------------------------------- encodeJson

Deno.test("encodeJson writes bigints as exact integers", () => {
  assert.equal(
    encodeJson({ a: 12345678901234567890n, b: [-9007199254740993n], c: "a/b" }),
    `{"a":12345678901234567890,"b":[-9007199254740993],"c":"a/b"}`,
  );
});

Deno.test("encodeJson behaves like JSON.stringify for undefined and unicode", () => {
  const value = {
    u: undefined,
    list: [undefined, 1],
    s: "é😀",
    e: [],
    o: {},
    n: Object.create(null),
  };
  assert.equal(encodeJson(value), JSON.stringify(value));
  assert.equal(encodeJson(value), `{"list":[null,1],"s":"é😀","e":[],"o":{},"n":{}}`);
});

Deno.test("encodeJson refuses values JSON would silently change: Date, Map, Set, class instances", () => {
  assert.throws(() => encodeJson({ at: new Date(0) }), /a Date at \$\.at/);
  assert.throws(() => encodeJson([new Map([[1, 2]])]), /a Map at \$\[0\]/);
  assert.throws(() => encodeJson({ s: { t: new Set([1]) } }), /a Set at \$\.s\.t/);
  class Point {
    x = 1;
  }
  assert.throws(() => encodeJson([new Point()]), /a Point at \$\[0\]/);
});

Deno.test("encodeJson throws a TypeError naming the path of a function or symbol", () => {
  assert.throws(
    () => encodeJson({ args: [1, { cb: () => 1 }] }),
    { name: "TypeError", message: "cannot encode as JSON: a function at $.args[1].cb" },
  );
  assert.throws(
    () => encodeJson([Symbol("s")]),
    { name: "TypeError", message: "cannot encode as JSON: a symbol at $[0]" },
  );
  assert.throws(
    () => encodeJson({ "a-b": { f() {} } }),
    { name: "TypeError", message: `cannot encode as JSON: a function at $["a-b"].f` },
  );
});

Deno.test("encodeJson throws on NaN and infinities instead of writing null", () => {
  assert.throws(() => encodeJson({ x: [NaN] }), {
    name: "TypeError",
    message: "cannot encode as JSON: NaN at $.x[0]",
  });
  assert.throws(() => encodeJson(-Infinity), {
    name: "TypeError",
    message: "cannot encode as JSON: -Infinity at $",
  });
});

Deno.test("encodeJson throws on undefined itself", () => {
  assert.throws(() => encodeJson(undefined), TypeError);
});

// ---------------------------------------------------------------- encodeNewJob

Deno.test("encodeNewJob writes the fields in order with fractional timestamps", () => {
  const text = encodeNewJob(
    {
      class: "ExampleWorker",
      queue: "default",
      args: [1, 2],
      jid: "9f1c2e7a0b3d4c5e6f708192",
      retry: 5,
      maxRetryCount: 5,
    },
    1796300422883,
    1796300422000,
  );
  assert.equal(
    text,
    `{"class":"ExampleWorker","args":[1,2],"jid":"9f1c2e7a0b3d4c5e6f708192","queue":"default","retry":5,"max_retry_count":5,"created_at":1796300422.883,"enqueued_at":1796300422.0}`,
  );
});

Deno.test("encodeNewJob omits enqueued_at and max_retry_count when not given, appends extra", () => {
  const text = encodeNewJob(
    {
      class: "W",
      queue: "low",
      args: [12345678901234567890n, "a/b", [], {}],
      jid: "j",
      retry: true,
      extra: { retry_queue: "retries", backtrace: true, skipped: undefined, wrapped: "X" },
    },
    1796300422000,
  );
  assert.equal(
    text,
    `{"class":"W","args":[12345678901234567890,"a/b",[],{}],"jid":"j","queue":"low","retry":true,"created_at":1796300422.0,"retry_queue":"retries","backtrace":true,"wrapped":"X"}`,
  );
});

Deno.test("encodeNewJob output round-trips through parseJob", () => {
  const args = [12345678901234567890n, -1, "é\u2028😀", { a: [] }, null];
  const text = encodeNewJob(
    {
      class: "W",
      queue: "q",
      args,
      jid: "abc",
      retry: false,
      maxRetryCount: 3,
      extra: { bid: "b" },
    },
    1796300422883,
    1796300423000,
  );
  assert.deepEqual(parseOk(text), {
    class: "W",
    args,
    jid: "abc",
    queue: "q",
    retry: false,
    max_retry_count: 3,
    created_at: 1796300422.883,
    enqueued_at: 1796300423,
    bid: "b",
  });
});

Deno.test("encodeNewJob refuses extra keys that would duplicate its own", () => {
  assert.throws(
    () =>
      encodeNewJob({
        class: "W",
        queue: "q",
        args: [],
        jid: "j",
        retry: true,
        extra: { queue: "x" },
      }, 0),
    TypeError,
  );
});

Deno.test("encodeNewJob refuses args it cannot encode, naming the path", () => {
  assert.throws(
    () => encodeNewJob({ class: "W", queue: "q", args: [1, () => 2], jid: "j", retry: true }, 0),
    { name: "TypeError", message: "cannot encode as JSON: a function at args[1]" },
  );
  assert.throws(
    () => encodeNewJob({ class: "", queue: "q", args: [], jid: "j", retry: true }, 0),
    TypeError,
  );
});

// ---------------------------------------------------------------- setTopLevelFields

Deno.test("setTopLevelFields replaces an existing value in place", () => {
  assert.equal(
    setTopLevelFields(`{"class":"W","retry_count":0,"args":[1]}`, { retry_count: "1" }),
    `{"class":"W","retry_count":1,"args":[1]}`,
  );
});

Deno.test("setTopLevelFields appends an absent key before the closing brace", () => {
  assert.equal(
    setTopLevelFields(`{"class":"W","args":[1]}`, { enqueued_at: "1796300422.0" }),
    `{"class":"W","args":[1],"enqueued_at":1796300422.0}`,
  );
});

Deno.test("setTopLevelFields removes first, middle, last and only keys", () => {
  const text = `{"a":1,"b":2,"c":3}`;
  assert.equal(setTopLevelFields(text, { a: undefined }), `{"b":2,"c":3}`);
  assert.equal(setTopLevelFields(text, { b: undefined }), `{"a":1,"c":3}`);
  assert.equal(setTopLevelFields(text, { c: undefined }), `{"a":1,"b":2}`);
  assert.equal(setTopLevelFields(text, { a: undefined, c: undefined }), `{"b":2}`);
  assert.equal(setTopLevelFields(text, { a: undefined, b: undefined, c: undefined }), `{}`);
  assert.equal(setTopLevelFields(`{"a":1}`, { a: undefined, z: "0" }), `{"z":0}`);
  assert.equal(setTopLevelFields(text, { missing: undefined }), text);
});

Deno.test("setTopLevelFields leaves every other byte of a tricky payload untouched", () => {
  const args = String
    .raw`[{"queue":"x"},"q\"uo}te,",{"k":"}]{["},"\u00e9","a/b",[],{},12345678901234567890,"😀",{"retry_count":{"queue":[1]}},"\\"]`;
  const text = `{"class":"W","args":${args},"jid":"j1","queue":"default","retry_count":0,` +
    String.raw`"wrapped":"\u00e9\/","error_message":"old"}`;
  const edited = setTopLevelFields(text, {
    queue: `"low"`,
    retry_count: "1",
    error_message: undefined,
    failed_at: "1796300422.883",
  });
  assert.equal(
    edited,
    `{"class":"W","args":${args},"jid":"j1","queue":"low","retry_count":1,` +
      String.raw`"wrapped":"\u00e9\/","failed_at":1796300422.883}`,
  );
  const job = parseOk(edited);
  assert.equal(job.queue, "low");
  assert.equal(job.retry_count, 1);
  assert.equal((job.args[0] as { queue: string }).queue, "x");
  assert.equal(job.args[7], 12345678901234567890n);
});

Deno.test("setTopLevelFields returns the text unchanged when nothing is edited", () => {
  const text = `{"class":"W","args":[1e2, 1.50]}`;
  assert.equal(setTopLevelFields(text, {}), text);
});

Deno.test("setTopLevelFields works on an empty object", () => {
  assert.equal(setTopLevelFields(`{}`, { a: "1", b: `"x"` }), `{"a":1,"b":"x"}`);
  assert.equal(setTopLevelFields(`{ }`, { a: "1" }), `{ "a":1}`);
  assert.equal(setTopLevelFields(`{}`, { a: undefined }), `{}`);
});

Deno.test("setTopLevelFields keeps the whitespace of padded JSON", () => {
  const text = ` {\n  "class" : "W" ,\n  "args" : [ 1, 2 ] ,\n  "n" : 5\n}\n `;
  assert.equal(
    setTopLevelFields(text, { class: `"V"`, n: undefined, added: "true" }),
    ` {\n  "class" : "V" ,\n  "args" : [ 1, 2 ],"added":true\n}\n `,
  );
  assert.equal(
    setTopLevelFields(text, { args: "[]" }),
    ` {\n  "class" : "W" ,\n  "args" : [] ,\n  "n" : 5\n}\n `,
  );
});

Deno.test("setTopLevelFields matches keys written with escapes", () => {
  assert.equal(
    setTopLevelFields(String.raw`{"\u0071ueue":"a","b":1}`, { queue: `"z"` }),
    String.raw`{"\u0071ueue":"z","b":1}`,
  );
});

Deno.test("setTopLevelFields edits every occurrence of a duplicated key", () => {
  const text = `{"a":1,"b":2,"a":3}`;
  assert.equal(setTopLevelFields(text, { a: "9" }), `{"a":9,"b":2,"a":9}`);
  assert.equal(setTopLevelFields(text, { a: undefined }), `{"b":2}`);
});

Deno.test("setTopLevelFields throws on text that is not a JSON object", () => {
  for (
    const text of [
      "",
      "[1]",
      `"x"`,
      "{",
      `{"a":1`,
      `{"a" 1}`,
      `{"a":1,}`,
      `{a:1}`,
      `{"a":1} x`,
      `{"a":[1}`,
      `{"a":{"b":]}`,
      `{"a":"unterminated}`,
      `{"a":tru}`,
      `{"a":}`,
    ]
  ) {
    assert.throws(() => setTopLevelFields(text, { a: "2" }), SyntaxError, text);
  }
});

Deno.test("setTopLevelFields edits a 1 MB payload in linear time", () => {
  const items = [];
  for (let i = 0; i < 60_000; i++) items.push(`{"n":${i},"s":"x\\"}]"}`);
  const big = `{"class":"W","args":[${items.join(",")}],"retry_count":0}`;
  assert.ok(big.length > 1_000_000);
  const start = performance.now();
  const edited = setTopLevelFields(big, { retry_count: "1", failed_at: "1.0" });
  const elapsed = performance.now() - start;
  assert.equal(edited, big.slice(0, -"0}".length) + `1,"failed_at":1.0}`);
  assert.ok(elapsed < 500, `took ${elapsed} ms`);
});

// ---------------------------------------------------------------- backtraces

Deno.test("encodeBacktrace output decodes back to the same lines", async () => {
  const lines = ["at run (file:///a.ts:1:2)", "at é😀 (b.ts:3:4)", ""];
  assert.deepEqual(await decodeBacktrace(await encodeBacktrace(lines)), lines);
});

Deno.test("encodeBacktrace writes base64 of a zlib stream that node:zlib inflates", async () => {
  const lines = ["one", "two"];
  const encoded = await encodeBacktrace(lines);
  assert.match(encoded, /^[A-Za-z0-9+/]+=*$/);
  const bytes = Uint8Array.from(atob(encoded), (c) => c.charCodeAt(0));
  assert.equal(new TextDecoder().decode(inflateSync(bytes)), `["one","two"]`);
});

Deno.test("decodeBacktrace reads Sidekiq's base64 with line breaks (Base64.encode64)", async () => {
  const lines = Array.from({ length: 20 }, (_, i) => `/app/lib/worker_${i}.rb:${i}:in 'perform'`);
  const base64 = btoa(String.fromCharCode(...deflateSync(JSON.stringify(lines))));
  const wrapped = base64.replace(/.{60}/g, "$&\n") + "\n";
  assert.ok(wrapped.split("\n").length > 3);
  assert.deepEqual(await decodeBacktrace(wrapped), lines);
});

Deno.test("decodeBacktrace splits a plain-text backtrace into its lines", async () => {
  assert.deepEqual(
    await decodeBacktrace("lib/my_worker.ex:12: MyWorker.perform/1\nlib/verk.ex:3: x"),
    ["lib/my_worker.ex:12: MyWorker.perform/1", "lib/verk.ex:3: x"],
  );
});

Deno.test("decodeBacktrace gives text it cannot decode back as is", async () => {
  assert.deepEqual(await decodeBacktrace("abcd"), ["abcd"]); // valid base64, not zlib
  assert.deepEqual(await decodeBacktrace("eJzLSM3JyVcozy/KSQEAGgQEXQ=="), [
    "eJzLSM3JyVcozy/KSQEAGgQEXQ==", // zlib, but of text that is not a JSON array
  ]);
  assert.deepEqual(await decodeBacktrace("eJyLVgoJ"), ["eJyLVgoJ"]); // truncated zlib
  assert.deepEqual(await decodeBacktrace(""), []);
});

// ---------------------------------------------------------------- malformedJobPayload

Deno.test("malformedJobPayload is a valid job holding the original text as args[0]", () => {
  const original = `{"args":[1], "é": "\ud800"`;
  const text = malformedJobPayload(original, "default", "payload has no class", 1796300422883);
  const job = parseOk(text);
  assert.equal(job.class, "Verk::MalformedJob");
  assert.deepEqual(job.args, [original]);
  assert.match(job.jid, /^[0-9a-f]{24}$/);
  assert.equal(job.queue, "default");
  assert.equal(job.error_class, "MalformedJob");
  assert.equal(job.error_message, "payload has no class");
  assert.equal(job.failed_at, 1796300422.883);
  assert.equal(job.retry, false);
  assert.equal(
    text,
    `{"class":"Verk::MalformedJob","args":[${
      JSON.stringify(original)
    }],"jid":"${job.jid}","queue":"default","error_class":"MalformedJob","error_message":"payload has no class","failed_at":1796300422.883,"retry":false}`,
  );
});
