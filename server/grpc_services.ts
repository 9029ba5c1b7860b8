/**
 * The two standard services every plain-gRPC listener serves beside its own: health checking
 * (`grpc.health.v1.Health`: `SERVING` while the component says it can serve) and server
 * reflection (`grpc.reflection.v1.ServerReflection`: the services and the descriptors of their
 * files, so that `buf curl` or `grpcurl` call them without the schema).
 *
 * @module
 */
import {
  create,
  type DescFile,
  type DescService,
  type MessageInitShape,
  toBinary,
} from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import {
  Health,
  HealthCheckResponse_ServingStatus as Status,
  ServerReflection,
  type ServerReflectionRequest,
  type ServerReflectionResponse,
  ServerReflectionResponseSchema,
} from "@allegro/proto/grpc";

/** How often `Watch` re-reads the status. */
const WATCH_MILLIS = 1000;

/**
 * Registers `Health` (whose status for the server, and for each of `services`, follows
 * `serving()`) and `ServerReflection` (for `services` and these two) on `router`.
 *
 * @example
 * ```ts ignore
 * serveGrpc({ ..., routes: (router) => {
 *   router.service(FastPaySidecar, impl);
 *   grpcServices(router, [FastPaySidecar], () => ready);
 * } });
 * ```
 */
export function grpcServices(
  router: ConnectRouter,
  services: readonly DescService[],
  serving: () => boolean,
): void {
  const names = new Set(["", ...services.map((s) => s.typeName)]);
  const status = (service: string) =>
    !names.has(service) ? Status.SERVICE_UNKNOWN : serving() ? Status.SERVING : Status.NOT_SERVING;
  router.service(Health, {
    check(request) {
      if (!names.has(request.service)) {
        throw new ConnectError(`unknown service "${request.service}"`, Code.NotFound);
      }
      return { status: status(request.service) };
    },
    async *watch(request, context) {
      let last: Status | undefined;
      while (!context.signal.aborted) {
        const now = status(request.service);
        if (now !== last) yield { status: last = now };
        await new Promise((resolve) => {
          const timer = setTimeout(resolve, WATCH_MILLIS);
          context.signal.addEventListener(
            "abort",
            () => (clearTimeout(timer), resolve(undefined)),
            {
              once: true,
            },
          );
        });
      }
    },
  });
  const all = [...services, Health, ServerReflection];
  router.service(ServerReflection, {
    async *serverReflectionInfo(requests) {
      for await (const request of requests) yield reflect(request, all);
    },
  });
}

/** The answer to one reflection query about `services`. */
function reflect(
  request: ServerReflectionRequest,
  services: readonly DescService[],
): ServerReflectionResponse {
  const answer = (r: MessageInitShape<typeof ServerReflectionResponseSchema>["messageResponse"]) =>
    create(ServerReflectionResponseSchema, {
      validHost: request.host,
      originalRequest: request,
      messageResponse: r,
    });
  const notFound = (message: string) =>
    answer({ case: "errorResponse", value: { errorCode: Code.NotFound, errorMessage: message } });
  const files = (file: DescFile | undefined) =>
    file === undefined ? undefined : answer({
      case: "fileDescriptorResponse",
      value: {
        fileDescriptorProto: withImports(file).map((f) =>
          toBinary(FileDescriptorProtoSchema, f.proto)
        ),
      },
    });
  const q = request.messageRequest;
  switch (q.case) {
    case "listServices":
      return answer({
        case: "listServicesResponse",
        value: { service: services.map((s) => ({ name: s.typeName })) },
      });
    case "fileByFilename":
      return files(allFiles(services).find((f) => f.proto.name === q.value)) ??
        notFound(`no file ${q.value}`);
    case "fileContainingSymbol":
      return files(fileOf(services, q.value)) ?? notFound(`no symbol ${q.value}`);
    default:
      return notFound(`${q.case ?? "an empty request"} is not supported`);
  }
}

/** `file` and every file it imports, transitively, each once. */
function withImports(file: DescFile): DescFile[] {
  const out: DescFile[] = [];
  const visit = (f: DescFile) => {
    if (out.includes(f)) return;
    out.push(f);
    f.dependencies.forEach(visit);
  };
  visit(file);
  return out;
}

function allFiles(services: readonly DescService[]): DescFile[] {
  return [...new Set(services.flatMap((s) => withImports(s.file)))];
}

/** The file that defines a service, method, message or enum of that fully qualified name. */
function fileOf(services: readonly DescService[], symbol: string): DescFile | undefined {
  for (const file of allFiles(services)) {
    const names = [
      ...file.services.flatMap((
        s,
      ) => [s.typeName, ...s.methods.map((m) => `${s.typeName}.${m.name}`)]),
      ...file.messages.flatMap(function nested(m): string[] {
        return [
          m.typeName,
          ...m.nestedMessages.flatMap(nested),
          ...m.nestedEnums.map((e) => e.typeName),
        ];
      }),
      ...file.enums.map((e) => e.typeName),
    ];
    if (names.includes(symbol)) return file;
  }
  return undefined;
}
