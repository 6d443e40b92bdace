/**
 * Types of validate mode: what `delay` takes (the schemas' input types, trailing optional
 * arguments optional), what the body receives (their output types) and what `get()` gives
 * (the `returns` schema's output, dumped to plain data).
 * @module
 */

/**
 * Any valibot schema, sync or async (`v.string()`, `v.object({…})`, `v.pipeAsync(…)`…).
 * Spelled out as the part of valibot's `BaseSchema`/`BaseSchemaAsync` that taskd's types read,
 * so every valibot schema fits it and the docs need none of valibot's internal types.
 */
export interface AnySchema {
  /** `"schema"`: what sets a schema apart from valibot's actions (validations, transformations). */
  readonly kind: "schema";
  /** `true` when the schema must be run by valibot's async functions (`v.objectAsync`…). */
  readonly async: boolean;
  /** valibot's type-only carrier of the schema's input and output types; never set at run time. */
  readonly "~types"?: { readonly input: unknown; readonly output: unknown } | undefined;
}

/** The type a schema accepts: valibot's `InferInput<S>`. */
export type InputOf<S extends AnySchema> = NonNullable<S["~types"]>["input"];

/** The type a schema gives after parsing (defaults and transforms applied): valibot's `InferOutput<S>`. */
export type OutputOf<S extends AnySchema> = NonNullable<S["~types"]>["output"];

/** `T` with its trailing elements that accept `undefined` made optional. */
export type TrailingOptional<T extends unknown[]> = T extends [...infer Init, infer Last] ? undefined extends Last ? [...TrailingOptional<Init>, Last?] : T : T;

/** The call's arguments: each schema's input type; trailing ones that accept `undefined` may be left out. */
export type SchemaInputs<S extends readonly AnySchema[]> = TrailingOptional<{ -readonly [K in keyof S]: S[K] extends AnySchema ? InputOf<S[K]> : never }>;

/** The body's arguments: each schema's output type (defaults and transforms applied). */
export type SchemaOutputs<S extends readonly AnySchema[]> = { -readonly [K in keyof S]: S[K] extends AnySchema ? OutputOf<S[K]> : never };

/** What the body receives: the parsed arguments, then the parsed keyword arguments when there is a `kwargs` schema. */
export type BodyArgs<S extends readonly AnySchema[], K extends AnySchema | undefined> = K extends AnySchema ? [...SchemaOutputs<S>, OutputOf<K>]
  : SchemaOutputs<S>;

/** What the body may return: the `returns` schema's input (anything without one). */
export type BodyReturn<R extends AnySchema | undefined> = R extends AnySchema ? InputOf<R> | Promise<InputOf<R>> : unknown;

/** Any function. */
// deno-lint-ignore no-explicit-any
export type Fn = (...args: any[]) => any;

/**
 * `value` after the dump that makes a stored result plain data: a Date becomes a string, a
 * bigint a string, a Map an object, a Set an array, methods disappear.
 */
export type Dumped<T> = T extends Date ? string
  : T extends bigint ? string
  : T extends string | number | boolean | null | undefined ? T
  : T extends Fn ? never
  : T extends ReadonlyMap<unknown, infer V> ? Record<string, Dumped<V>>
  : T extends ReadonlySet<infer V> ? Dumped<V>[]
  : T extends readonly unknown[] ? { -readonly [I in keyof T]: Dumped<T[I]> }
  : T extends object ? { [P in keyof T as T[P] extends Fn ? never : P]: Dumped<T[P]> }
  : T;

/** What `get()` gives: the `returns` output dumped, else what the body returns. */
export type Returned<R extends AnySchema | undefined, F extends Fn> = R extends AnySchema ? Dumped<OutputOf<R>> : Awaited<ReturnType<F>>;

/** Plain task options: a literal `validate: true` must use the validated overloads, which check the body against the schemas. */
export type Unvalidated<O> = O extends { validate: true } ? { validate?: false } : unknown;
