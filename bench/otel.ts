// With TASKD_BENCH_OTEL=1 (the `taskd-bun-otel` row), registers an OpenTelemetry SDK tracer
// provider whose exporter drops every span, in the client and in the worker: what tracing costs
// when it is on, apart from the exporter's own work. Imported by bench/tasks.ts and the client.
import process from "node:process";

if (process.env.TASKD_BENCH_OTEL === "1") {
  const { trace, context } = await import("@opentelemetry/api");
  const { BasicTracerProvider, SimpleSpanProcessor } = await import("@opentelemetry/sdk-trace-base");
  const { AsyncLocalStorageContextManager } = await import("@opentelemetry/context-async-hooks");
  const exporter = { export: (_s: unknown[], done: (r: { code: number }) => void) => done({ code: 0 }), shutdown: () => Promise.resolve() };
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
}
