/**
 * TurnWriter: the commands the tier issues during one turn of the event loop leave in one write
 * to the socket, or in two when the turn's first reply arrives between them.
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
 * The first reply of a turn flushes too. When data first arrives on the socket in a turn, what is
 * held leaves before ioredis hands the replies out (a `data` listener put ahead of ioredis's own).
 * What is held then was issued before the turn's replies, in timer callbacks (a factory's result
 * being written back) or in other I/O callbacks, and would otherwise wait behind the processing of
 * every reply of the turn: in the Zipf scenario of `npm run bench:l2` a fill waited 1.1–1.5 ms for
 * its SET, about one and a half turns, and waits 0.9–1.1 ms with this. Later replies of the turn
 * do not flush, so the commands issued while replies are processed still leave together at the
 * end of the turn (L2 gets of a fresh instance issue all their commands so, and never flush on a
 * reply). Against the same build without it, paired rounds: Zipf getOrSet 1.017× (40 rounds), and
 * 1.06× and 1.12× in a younger service, whose origin answers 7.5 % of the requests instead of
 * 4 %, so that more of the requests wait on fills.
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
  /** The socket whose replies flush what is held (the current one; a reconnection replaces it). */
  private listenedTo: Corkable | undefined;
  /** Whether a reply has already flushed in this turn (only the first one does: see the note). */
  private replyFlushed = false;

  /** @param client the single-node connection, or undefined for a Cluster (nothing is held) */
  constructor(private readonly client: Redis | undefined) {}

  /** Holds the socket's writes until the turn's end or first reply; call before issuing a command. */
  hold(): void {
    if (this.held !== undefined || this.client === undefined) return;
    const socket = this.client.stream as (Corkable & NodeJS.EventEmitter) | undefined;
    if (socket === undefined) return;
    if (socket !== this.listenedTo) {
      this.listenedTo = socket;
      socket.prependListener('data', () => this.flushOnFirstReply());
    }
    socket.cork();
    this.held = socket;
    if (!this.endOfTurnScheduled) {
      this.endOfTurnScheduled = true;
      setImmediate(() => {
        this.endOfTurnScheduled = false;
        this.replyFlushed = false;
        this.flush();
      });
    }
  }

  private flushOnFirstReply(): void {
    if (this.replyFlushed || this.held === undefined) return;
    this.replyFlushed = true;
    this.flush();
  }

  /** Sends the held commands now. */
  flush(): void {
    const socket = this.held;
    if (socket === undefined) return;
    this.held = undefined;
    socket.uncork();
  }
}
