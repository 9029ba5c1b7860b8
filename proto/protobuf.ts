/**
 * The protobuf-es runtime the generated code in `gen/` imports (`buf.gen.yaml` rewrites its
 * `@bufbuild/protobuf` imports to this module). Its types are protobuf-es's to document: they
 * are marked `@internal` so that `deno doc --lint` does not check their npm declarations as if
 * they were this package's (denoland/deno#27364), which it cannot pass — `GenMessage` refers to
 * types protobuf-es does not export. Use them from `@bufbuild/protobuf`.
 *
 * @module
 */

/** @internal */
export type { Message } from "@bufbuild/protobuf";
/** @internal */
export type { GenEnum, GenFile, GenMessage, GenService } from "@bufbuild/protobuf/codegenv2";
/** @internal */
export { enumDesc, fileDesc, messageDesc, serviceDesc } from "@bufbuild/protobuf/codegenv2";
