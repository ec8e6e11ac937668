/**
 * In-process single flight: at most one factory call per key at a time.
 *
 * The first caller of a cold key starts the flight; every caller arriving while it runs gets the
 * same promise, so 1,000 concurrent `getOrSet` calls on a cold key cost one origin request. The
 * entry is removed when the flight settles (after the result has been written to the cache, so a
 * caller arriving just after finds it there). Every flight has a rejection handler attached, so a
 * failure nobody awaits any longer (a caller left at its soft timeout) is never an unhandled
 * rejection.
 */
export class SingleFlight {
  private readonly flights = new Map<string, Promise<unknown>>();

  /** The running flight for `key`, if any. */
  get<T>(key: string): Promise<T> | undefined {
    return this.flights.get(key) as Promise<T> | undefined;
  }

  /** Starts `work` as the flight for `key`; the caller has checked that none is running. */
  start<T>(key: string, work: () => Promise<T>): Promise<T> {
    const flight = work().finally(() => {
      if (this.flights.get(key) === flight) this.flights.delete(key);
    });
    flight.catch(ignoreRejection);
    this.flights.set(key, flight);
    return flight;
  }

  get size(): number {
    return this.flights.size;
  }
}

function ignoreRejection(): void {}
