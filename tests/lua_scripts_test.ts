import assert from "node:assert/strict";
import { LUA_SOURCES } from "../src/lua_scripts.ts";
import { readLuaDir } from "../scripts/gen_lua.ts";

Deno.test("src/lua_scripts.ts holds exactly the scripts in lua/ (run `deno task gen` when this fails)", async () => {
  assert.deepEqual({ ...LUA_SOURCES }, await readLuaDir());
});

Deno.test("each script's header lists as many fixed KEYS as its name's suffix says", () => {
  for (const [name, source] of Object.entries(LUA_SOURCES)) {
    const count = Number(name.slice(name.lastIndexOf("-") + 1));
    const header = source.slice(0, source.indexOf("]]"));
    assert.ok(header.startsWith("--[["), `${name}: no header comment`);
    const fixed = new Set([...header.matchAll(/KEYS\[(\d+)\]/g)].map((match) => Number(match[1])));
    assert.deepEqual([...fixed].sort(), Array.from({ length: count }, (_, i) => i + 1), name);
    assert.match(header, /Returns:/, `${name}: header does not say what it returns`);
    const used = new Set(
      [...source.slice(header.length).matchAll(/KEYS\[(\d+)\]/g)].map((m) => Number(m[1])),
    );
    for (const index of used) {
      assert.ok(index <= count, `${name} uses KEYS[${index}] beyond its count`);
    }
  }
});
