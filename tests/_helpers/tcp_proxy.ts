/**
 * A TCP proxy for outage tests: listens on 127.0.0.1 (a free port), forwards
 * every connection to a target port, and can cut all current connections on
 * demand (both sides closed at once, as a broken network or a restarted load
 * balancer would). New connections are accepted again right after a cut, or
 * refused for a while with `setDown(true)`.
 *
 * @example
 * ```ts
 * await using redis = await startRedis();
 * await using proxy = startTcpProxy(redis.port);
 * const verk = new Verk({ redisUrl: proxy.url(redis.db) });
 * proxy.cut(); // every connection through the proxy drops
 * ```
 * @module
 */

/** A running proxy. Disposing it is the same as `stop()`. */
export interface TcpProxy extends AsyncDisposable {
  /** The port the proxy listens on (127.0.0.1). */
  readonly port: number;
  /** `redis://127.0.0.1:<port>/<db>`. */
  url(db?: number): string;
  /** How many connections are open through the proxy now. */
  readonly open: number;
  /** Closes every current connection on both sides; returns how many were cut. */
  cut(): number;
  /**
   * `true`: cut every connection and close new ones at once (Redis unreachable)
   * until called with `false`.
   */
  setDown(down: boolean): void;
  /** Stops accepting, cuts every connection and waits until all of them are closed. */
  stop(): Promise<void>;
}

/** One client connection and its upstream twin. */
interface Pair {
  client: Deno.Conn;
  upstream: Deno.Conn | undefined;
  closed: boolean;
}

/** Starts a proxy on 127.0.0.1 to `127.0.0.1:<targetPort>`. */
export function startTcpProxy(targetPort: number): TcpProxy {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const pairs = new Set<Pair>();
  const tasks = new Set<Promise<void>>();
  let stopped = false;
  let down = false;

  const close = (pair: Pair) => {
    if (pair.closed) return;
    pair.closed = true;
    pairs.delete(pair);
    for (const conn of [pair.client, pair.upstream]) {
      try {
        conn?.close();
      } catch { /* already closed */ }
    }
  };

  const track = (task: Promise<void>) => {
    tasks.add(task);
    task.finally(() => tasks.delete(task));
  };

  const serve = async (client: Deno.Conn) => {
    const pair: Pair = { client, upstream: undefined, closed: false };
    pairs.add(pair);
    try {
      const upstream = await Deno.connect({ hostname: "127.0.0.1", port: targetPort });
      if (pair.closed) {
        upstream.close(); // cut while connecting
        return;
      }
      pair.upstream = upstream;
      await Promise.all([pump(pair, client, upstream), pump(pair, upstream, client)]);
    } catch {
      // Target down, or the pair was cut: the client sees its connection close.
    } finally {
      close(pair);
    }
  };

  /** Copies `from` to `to` until either side ends; then the pair is closed. */
  const pump = async (pair: Pair, from: Deno.Conn, to: Deno.Conn) => {
    const buffer = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const read = await from.read(buffer);
        if (read === null) break;
        for (let offset = 0; offset < read;) {
          offset += await to.write(buffer.subarray(offset, read));
        }
      }
    } catch {
      // The other direction or a cut closed the connection.
    } finally {
      close(pair);
    }
  };

  track((async () => {
    try {
      for await (const client of listener) {
        if (stopped || down) {
          client.close();
          continue;
        }
        track(serve(client));
      }
    } catch {
      // The listener was closed by stop().
    }
  })());

  const proxy: TcpProxy = {
    port: (listener.addr as Deno.NetAddr).port,
    url: (db = 0) => `redis://127.0.0.1:${proxy.port}/${db}`,
    get open() {
      return pairs.size;
    },
    cut() {
      const count = pairs.size;
      for (const pair of [...pairs]) close(pair);
      return count;
    },
    setDown(value) {
      down = value;
      if (down) proxy.cut();
    },
    async stop() {
      if (!stopped) {
        stopped = true;
        listener.close();
      }
      while (tasks.size > 0 || pairs.size > 0) {
        proxy.cut();
        await Promise.allSettled([...tasks]);
      }
    },
    [Symbol.asyncDispose]() {
      return proxy.stop();
    },
  };
  return proxy;
}
