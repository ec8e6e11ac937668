/**
 * ByteBudget: the bytes of request and response bodies the gateway may hold in memory at once
 * (KEEL_MAX_BUFFERED_BYTES), shared by every request.
 *
 * Bodies are held whole only where the gateway needs them whole: an origin answer it is going to
 * store, and a client's upload, read before the origin is asked so that a slow client never holds
 * an origin connection. Each takes its bytes from this budget first; when the budget cannot cover
 * them, the body is streamed instead (and an answer is then not stored), so memory stays bounded
 * however many clients upload or miss at once, and nothing is refused for it.
 */
export class ByteBudget {
  private held = 0;
  /** Bodies streamed because the budget was spent. */
  overflows = 0;

  constructor(readonly limit: number) {}

  /** Takes `bytes` if the budget has them; false (and nothing taken) otherwise. */
  take(bytes: number): boolean {
    if (this.held + bytes > this.limit) {
      this.overflows++;
      return false;
    }
    this.held += bytes;
    return true;
  }

  give(bytes: number): void {
    this.held -= bytes;
  }

  get heldBytes(): number {
    return this.held;
  }
}
