/** The bounded ring behind /v1/runtime/events/recent. Oldest events fall off and are counted. */
export interface RingEvent {
  readonly seq: number;
  readonly ts_epoch_secs: number;
  readonly event_type: string;
  readonly context: string;
}

const MAX_CONTEXT = 256;

export class EventsRing {
  private buf: RingEvent[] = [];
  private seq = 0;
  dropped = 0;

  constructor(private cap: number) {}

  get capacity(): number {
    return this.cap;
  }

  resize(cap: number): void {
    this.cap = cap;
    while (this.buf.length > cap) {
      this.buf.shift();
      this.dropped++;
    }
  }

  push(eventType: string, context: string): RingEvent {
    const e: RingEvent = {
      seq: ++this.seq,
      ts_epoch_secs: Math.floor(Date.now() / 1000),
      event_type: eventType,
      context: context.length > MAX_CONTEXT ? context.slice(0, MAX_CONTEXT - 1) + '…' : context,
    };
    this.buf.push(e);
    if (this.buf.length > this.cap) {
      this.buf.shift();
      this.dropped++;
    }
    return e;
  }

  /** The newest `limit` events, oldest first. */
  recent(limit: number): RingEvent[] {
    return this.buf.slice(Math.max(0, this.buf.length - limit));
  }
}
