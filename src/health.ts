import { HealthImplementation, type ServingStatus } from "grpc-health-check";

/** The grpc.health.v1 service name of liveness: the process is up. */
export const LIVENESS_SERVICE = "";
/** The grpc.health.v1 service name of readiness: send traffic here. */
export const READINESS_SERVICE = "tvibkr.ingest.v1.IngestService";

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
}
