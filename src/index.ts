/**
 * What the package offers other services: a typed Ingest client, its error
 * type, the signing function and the reply types. The service itself starts
 * from main.ts.
 */
export {
  createIngestClient,
  DEFAULT_CLIENT_DEADLINE_MS,
  IngestCallError,
  IngestClient,
  type AlertInput,
  type IngestCallOptions,
  type IngestClientOptions,
} from "./client";
export { signBody } from "./auth";
export {
  Outcome,
  type IngestResponse,
  type Signal,
} from "./gen/tvibkr/ingest/v1/ingest";
