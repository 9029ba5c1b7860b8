/**
 * The `allegro.v1` wire API: protobuf-es v2 messages and Connect v2 service descriptors for the
 * validator sidecar (`FastPaySidecar`) and the aggregator backend (`FastPayAggregator`).
 * Generated from `allegro/v1/*.proto` by `deno task gen`.
 *
 * @example
 * ```ts
 * import { create, toBinary } from "@bufbuild/protobuf";
 * import { GetBulletinBoardRequestSchema } from "@allegro/proto";
 *
 * const request = create(GetBulletinBoardRequestSchema, { afterSequence: 10n, limit: 100 });
 * const bytes = toBinary(GetBulletinBoardRequestSchema, request);
 * ```
 *
 * @module
 */
export * from "./gen/allegro/v1/types_pb.ts";
export * from "./gen/allegro/v1/sidecar_pb.ts";
export * from "./gen/allegro/v1/aggregator_pb.ts";
