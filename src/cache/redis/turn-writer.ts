/**
 * TurnWriter: the commands the tier issues during one turn of the event loop leave in one write
 * to the socket.
 *
 * A write to a socket is a system call, and on loopback it also wakes Redis on another core: on
 * the machines `npm run bench:l2` runs on, that costs tens of microseconds, more than the command
 * itself. ioredis writes each command as it is issued; its auto-pipelining groups the commands of
 * a turn, but keeps one pipeline in flight at a time and sends the next only once every reply of
 * the previous one has arrived, so Redis and this process take turns, each idle while the other
 * works. Instead the tier's connection writes directly (auto-pipelining off) and this class corks
 * its socket at the first command of a turn; a `setImmediate` (which runs once the turn's I/O
 * callbacks and timers, the code that issues commands, are done) uncorks it, and Node sends
 * everything held in one `writev`. Any number of turns' commands may be in flight: Redis works on
 * one turn's commands while this process runs the next. `flush` sends what is held at once; the
 * read batcher calls it for a full batch, so Redis can start on it before the turn ends.
 *
 * Measured in `npm run bench:l2` against BentoCache, same hour, paired rounds: Zipf getOrSet
 * went from 2.67× and 2.85× to 3.02× and 3.39×; L2 gets of a fresh instance gained too (median
 * rates of Keel alone 92k, 94k, 72k/s against 75k, 94k, 66k/s), where corking without the early
 * flush of full batches lost a tenth.
 *
 * Only a single node (or a Sentinel-managed primary) has one socket; a Cluster client keeps
 * ioredis's per-node auto-pipelining and `hold` does nothing. Each cork is matched by one uncork:
 * the socket is corked exactly while `held` names it. A socket replaced by a reconnection is simply
 * not corked until the next turn.
 */
import type { Redis } from 'ioredis';

interface Corkable {
  cork(): void;
  uncork(): void;
}

export class TurnWriter {
  private held: Corkable | undefined;
  private endOfTurnScheduled = false;

  /** @param client the single-node connection, or undefined for a Cluster (nothing is held) */
  constructor(private readonly client: Redis | undefined) {}

  /** Holds the socket's writes until the end of the turn; call before issuing a command. */
  hold(): void {
    if (this.held !== undefined || this.client === undefined) return;
    const socket = this.client.stream as Corkable | undefined;
    if (socket === undefined) return;
    socket.cork();
    this.held = socket;
    if (!this.endOfTurnScheduled) {
      this.endOfTurnScheduled = true;
      setImmediate(() => {
        this.endOfTurnScheduled = false;
        this.flush();
      });
    }
  }

  /** Sends the held commands now. */
  flush(): void {
    const socket = this.held;
    if (socket === undefined) return;
    this.held = undefined;
    socket.uncork();
  }
}
