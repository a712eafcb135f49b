/**
 * The DC side of a session, behind one interface: the direct connector here, the Middle-End
 * route later. A leg carries the client's plaintext MTProto stream (framing untouched).
 */
import type { ProtoTag } from '@mtedge/protocol';
import type { CompiledUser } from './user-registry.js';

export interface UpstreamRequest {
  readonly dcId: number;
  readonly tag: ProtoTag;
  readonly user: CompiledUser;
  readonly clientIp: string;
  readonly clientPort: number;
}

export interface UpstreamLegEvents {
  /** Plaintext from the DC toward the client. */
  data(plain: Buffer): void;
  /**
   * Several plaintext pieces toward the client, in order, to go out as one write (the ME route
   * hands over a turn's answers this way). Optional: without it the pieces arrive joined via data().
   */
  dataPieces?(pieces: readonly Buffer[], bytes: number): void;
  /** The DC side can take more after write() returned false. */
  drain(): void;
  /** The DC finished sending (half-close). */
  end(): void;
  /** The leg is gone; `err` set when it failed. */
  close(err: Error | undefined): void;
}

export interface UpstreamLeg {
  readonly route: 'direct' | 'me';
  /** Plaintext from the client toward the DC; the leg owns `plain` from here (it may encrypt it in place). false = buffer full, wait for drain(). */
  write(plain: Buffer): boolean;
  pause(): void;
  resume(): void;
  end(): void;
  destroy(): void;
}

export interface Upstream {
  connect(req: UpstreamRequest, events: UpstreamLegEvents): Promise<UpstreamLeg>;
}

export class UpstreamError extends Error {
  constructor(
    readonly code: 'MTE_ERR_DC_UNKNOWN' | 'MTE_ERR_DC_CONNECT' | 'MTE_ERR_DC_TIMEOUT',
    message: string,
    readonly dc: number,
    readonly endpoint: string | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'UpstreamError';
  }
}
