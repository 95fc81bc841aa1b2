/**
 * A paged read that can be awaited for its first page or iterated over every page, like Stripe's
 * auto-pagination: `await client.readAll()` is one page, `for await (const page of client.readAll())` walks
 * them all, and `for await (const event of client.readAll().events())` walks the events.
 */
export class PagedRead<TPage extends { events: TEvent[] }, TEvent>
  implements PromiseLike<TPage>, AsyncIterable<TPage>
{
  private first: Promise<TPage> | undefined;

  constructor(
    private readonly fetchPage: (cursor: unknown) => Promise<TPage>,
    private readonly nextCursor: (page: TPage) => unknown,
    private readonly start: unknown,
  ) {}

  // biome-ignore lint/suspicious/noThenProperty: awaiting a PagedRead gives its first page, by design
  then<R1 = TPage, R2 = never>(
    onfulfilled?: ((value: TPage) => R1 | PromiseLike<R1>) | null,
    onrejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    this.first ??= this.fetchPage(this.start);
    return this.first.then(onfulfilled, onrejected);
  }

  /** Like `Promise.prototype.catch`, for the first page. */
  catch<R = never>(onrejected?: ((reason: unknown) => R | PromiseLike<R>) | null): Promise<TPage | R> {
    return this.then(undefined, onrejected);
  }

  /** Like `Promise.prototype.finally`, for the first page. */
  finally(onfinally?: (() => void) | null): Promise<TPage> {
    return this.then().finally(onfinally);
  }

  async *[Symbol.asyncIterator](): AsyncIterator<TPage> {
    let cursor = this.start;
    for (;;) {
      const page = await this.fetchPage(cursor);
      yield page;
      const next = this.nextCursor(page);
      if (next === null || next === undefined) return;
      cursor = next;
    }
  }

  /** Every event of every page, in order. */
  async *events(): AsyncGenerator<TEvent> {
    for await (const page of this) yield* page.events;
  }
}
