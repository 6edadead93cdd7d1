/**
 * `deno task web`: the dashboard served alone, configured from `VERK_*`
 * variables, stopped on SIGINT/SIGTERM. The program's entry point configures
 * LogTape (warnings to the console), as `verk` and the example worker do.
 * @module
 */
import { logToConsole } from "../log.ts";
import { ConfigError } from "../errors.ts";
import type { ServeWebOptions } from "./mod.ts";

/** What `main` starts: `serveWeb`, passed in (mod.ts imports this file at run time). */
type Serve = (options: ServeWebOptions) => Deno.HttpServer<Deno.NetAddr>;

/** The server options from the environment (only the variables that are set). */
export function optionsFromEnv(env: (name: string) => string | undefined): ServeWebOptions {
  const options: ServeWebOptions = {};
  const redisUrl = env("VERK_REDIS_URL");
  if (redisUrl) options.redisUrl = redisUrl;
  const host = env("VERK_WEB_HOST");
  if (host) options.hostname = host;
  const port = env("VERK_WEB_PORT");
  if (port) {
    const value = Number(port);
    if (!Number.isInteger(value) || value < 0 || value > 65535) {
      throw new ConfigError("VERK_WEB_PORT", `must be a port number: got ${JSON.stringify(port)}`);
    }
    options.port = value;
  }
  const base = env("VERK_WEB_BASE_PATH");
  if (base) options.basePath = base;
  const username = env("VERK_WEB_USERNAME");
  const password = env("VERK_WEB_PASSWORD");
  const token = env("VERK_WEB_TOKEN");
  if (token) options.auth = { token };
  else if (username || password) {
    options.auth = { username: username ?? "", password: password ?? "" };
  }
  const readOnly = env("VERK_WEB_READ_ONLY");
  if (readOnly) {
    if (!/^(true|false|1|0)$/.test(readOnly)) {
      throw new ConfigError(
        "VERK_WEB_READ_ONLY",
        `must be true or false: got ${JSON.stringify(readOnly)}`,
      );
    }
    options.readOnly = readOnly === "true" || readOnly === "1";
  }
  const secret = env("VERK_WEB_SECRET");
  if (secret) options.secret = secret;
  return options;
}

/** Serves until SIGINT or SIGTERM; a bad variable exits with code 2 and a message. */
export async function main(serve: Serve): Promise<void> {
  await logToConsole("warning");
  const stop = new AbortController();
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  const onSignal = () => stop.abort();
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    const options = optionsFromEnv((name) => Deno.env.get(name));
    const hostname = options.hostname ?? "127.0.0.1";
    if (!options.auth && !/^(127\.|::1$|localhost$)/.test(hostname)) {
      console.error(
        `verk web: listening on ${hostname} without authentication: anyone who reaches it can ` +
          "delete jobs. Set VERK_WEB_USERNAME and VERK_WEB_PASSWORD, or VERK_WEB_TOKEN.",
      );
    }
    server = serve({ ...options, signal: stop.signal });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`verk web: ${error.message}`);
    Deno.exit(2);
  }
  for (const signal of signals) Deno.addSignalListener(signal, onSignal);
  await server.finished;
  for (const signal of signals) Deno.removeSignalListener(signal, onSignal);
}
