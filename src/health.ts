import { HealthImplementation, type ServingStatus } from "grpc-health-check";

/** The grpc.health.v1 service name of liveness: the process is up. */
export const LIVENESS_SERVICE = "";
/** The grpc.health.v1 service name of readiness: send traffic here. */
export const READINESS_SERVICE = "tvibkr.ingest.v1.IngestService";

type HealthServer = Parameters<HealthImplementation["addToServer"]>[0];
type HealthHandlers = Parameters<HealthServer["addService"]>[1];
/** The part of a Watch call this module uses. */
interface WatchCall {
  end(): void;
  on(event: "cancelled", listener: () => void): unknown;
}

/**
 * The health of the service, served over grpc.health.v1 by grpc-health-check
 * and read by the HTTP gateway's /health and /ready, so both always agree.
 * Readiness starts NOT_SERVING and is turned on once both listeners are up.
 */
export class Health {
  readonly service: HealthImplementation;
  private readonly statuses = new Map<string, ServingStatus>([
    [LIVENESS_SERVICE, "SERVING"],
    [READINESS_SERVICE, "NOT_SERVING"],
  ]);
  private readonly watches = new Set<WatchCall>();

  constructor() {
    this.service = new HealthImplementation(Object.fromEntries(this.statuses));
  }

  /** Sets a service's status for gRPC Check and Watch and for HTTP. */
  set(serviceName: string, status: ServingStatus): void {
    this.statuses.set(serviceName, status);
    this.service.setStatus(serviceName, status);
  }

  /** The current status; a name never set reads as SERVICE_UNKNOWN. */
  get(serviceName: string): ServingStatus | "SERVICE_UNKNOWN" {
    return this.statuses.get(serviceName) ?? "SERVICE_UNKNOWN";
  }

  /**
   * Adds grpc.health.v1 to `server`, keeping each Watch stream so that
   * `endWatches` can close it: grpc-health-check never ends one, and an open
   * stream holds a graceful shutdown until the drain deadline.
   */
  addToServer(server: HealthServer): void {
    this.service.addToServer({
      addService: (definition, handlers) =>
        server.addService(definition, this.trackWatches(handlers)),
    });
  }

  /** Ends every open Watch stream with OK, after the statuses it was sent. */
  endWatches(): void {
    for (const call of this.watches) call.end();
    this.watches.clear();
  }

  private trackWatches(handlers: HealthHandlers): HealthHandlers {
    const watch = handlers.watch as (call: WatchCall) => void;
    return {
      ...handlers,
      watch: (call: WatchCall) => {
        this.watches.add(call);
        call.on("cancelled", () => this.watches.delete(call));
        watch(call);
      },
    };
  }
}
