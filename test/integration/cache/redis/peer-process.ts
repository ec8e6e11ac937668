/**
 * A cache manager in a child process, driven over IPC by the cross-process coherence test:
 * { id, op: 'get' | 'set' | 'invalidateTags', key?, value?, tags? } → { id, result }.
 */
import { OptimizedCacheManager } from '../../../../src/cache/index.js';

interface Command {
  id: number;
  op: 'get' | 'set' | 'invalidateTags' | 'close';
  key?: string;
  value?: unknown;
  tags?: string[];
}

const [url, namespace] = process.argv.slice(2) as [string, string];
const cache = await OptimizedCacheManager.create({ namespace, load: false, redis: { url, required: true } });

process.on('message', async (command: Command) => {
  let result: unknown;
  if (command.op === 'get') result = (await cache.get(command.key as string)) ?? null;
  else if (command.op === 'set')
    await cache.set(command.key as string, command.value, { tags: command.tags });
  else if (command.op === 'invalidateTags') result = await cache.invalidateTags(command.tags as string[]);
  else await cache.close();
  process.send?.({ id: command.id, result });
  if (command.op === 'close') process.disconnect();
});
process.send?.({ id: 0, result: 'ready' });
