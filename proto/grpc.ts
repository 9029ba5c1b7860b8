/**
 * `@allegro/proto/grpc`: the standard gRPC health checking (`grpc.health.v1`) and server
 * reflection (`grpc.reflection.v1`) protocols, generated from `grpc/**.proto`. The plain-gRPC
 * listeners of the sidecar and the backend serve both (`@allegro/server/listen`). Not part of
 * the Allegro API.
 *
 * @example
 * ```ts
 * import { Health, HealthCheckResponse_ServingStatus } from "@allegro/proto/grpc";
 *
 * console.log(Health.typeName, HealthCheckResponse_ServingStatus.SERVING); // grpc.health.v1.Health 1
 * ```
 *
 * @module
 */
export * from "./gen/grpc/health/v1/health_pb.ts";
export * from "./gen/grpc/reflection/v1/reflection_pb.ts";
