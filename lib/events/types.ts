/** An event as the caller proposes it. `id` is generated when absent. */
export interface ProposedEvent {
  id?: string;
  type: string;
  data?: unknown;
  metadata?: Record<string, unknown>;
}

/** An event as stored. */
export interface RecordedEvent {
  id: string;
  streamId: string;
  version: number;
  position: number;
  type: string;
  data: unknown;
  metadata: Record<string, unknown> | null;
  createdAt: Date;
}

/** `any`, `no_stream`, `stream_exists`, or the exact current version (0 means "no stream yet"). */
export type ExpectedVersion = "any" | "no_stream" | "stream_exists" | number;

/** The CloudEvents 1.0 JSON form in which events leave the bus. */
export interface EventBusCloudEvent {
  specversion: "1.0";
  id: string;
  source: string;
  type: string;
  time: string;
  subject: string;
  datacontenttype: "application/json";
  data: unknown;
  streamid: string;
  streamversion: number;
  position: number;
  metadata?: Record<string, unknown>;
}
