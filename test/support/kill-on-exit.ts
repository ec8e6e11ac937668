/**
 * Child servers the tests start (redis-server, a throwaway PostgreSQL) must not outlive the test
 * process. `killOnExit` registers one: when the process exits, or receives a signal that would end
 * it, every registered child is killed at once (synchronously: nothing else runs at exit). The
 * signal listeners are installed on the first registration, and a signal still ends the process
 * afterwards when nobody else listens for it.
 */

export interface Killable {
  /** Kills the child now, synchronously (SIGKILL). */
  killNow(): void;
}

/** The signals that end a test process by default and that we can still clean up after. */
const FATAL_SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;

const live = new Set<Killable>();
let listening = false;

/** Kills `child` if the process ends while it runs; returns the call that forgets it (on its exit). */
export function killOnExit(child: Killable): () => void {
  live.add(child);
  listen();
  return () => live.delete(child);
}

function listen(): void {
  if (listening) return;
  listening = true;
  process.once('exit', killAll);
  for (const signal of FATAL_SIGNALS) {
    process.once(signal, () => {
      killAll();
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal); // die of it, as before
    });
  }
}

function killAll(): void {
  for (const child of live) child.killNow();
}
