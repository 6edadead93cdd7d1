/**
 * Counts the Redis commands a process sends, by wrapping ioredis'
 * `sendCommand` (BullMQ's bench does the same on its own ioredis). A command
 * inside a pipeline or MULTI counts as one, so this over-counts round trips
 * slightly for pipelines; Lua-internal calls are not counted.
 */
export function countCommands(
  prototype: { sendCommand: (...args: never[]) => unknown },
): () => number {
  let count = 0;
  const original = prototype.sendCommand;
  prototype.sendCommand = function (this: unknown, ...args: never[]) {
    count++;
    return original.apply(this, args);
  };
  return () => count;
}
