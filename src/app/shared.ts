/**
 * Shared tasks (Celery's `@shared_task`): a task a library defines without knowing the App that
 * will serve it. The definition is registered on every App, those created before it and after
 * it; calling the returned handle uses the current app — the app of the task this code runs in,
 * else the App made current last (`app.setCurrent()`, which every new App does, as Celery's
 * `set_as_current`).
 * @module
 */
import { currentTask } from "../context/task_context.ts";
import type { Task } from "./task.ts";
import type { AnyFn, TaskDecoratorOptions } from "./decorator.ts";

/** What a shared definition needs of an App (an `App` is one). */
interface Registry {
  task(options: TaskDecoratorOptions, fn: AnyFn): Task;
  readonly main: string;
}

interface Definition {
  options: TaskDecoratorOptions;
  fn: AnyFn;
  tasks: Map<Registry, Task>;
}

const definitions: Definition[] = [];
const registries: Registry[] = [];
let current: Registry | undefined;

/** Registers every shared task on `app` (called by each App as it is created) and makes it current. */
export function registerSharedTasks(app: Registry): void {
  registries.push(app);
  current = app;
  for (const d of definitions) d.tasks.set(app, app.task(d.options, d.fn));
}

/** Makes `app` the one shared tasks are called through outside a task (Celery's `set_current`). */
export function setCurrentApp(app: Registry): void {
  current = app;
}

/**
 * Defines a task for whichever App serves it (Celery's `shared_task`): it is registered on
 * every App of the process, and calls go through the current app.
 * @example
 * ```ts
 * // a library: no App of its own
 * export const double = sharedTask(function double(x: number) { return 2 * x; });
 * // the application: new App("tasks") registers it as tasks.double
 * await double.delay(21);
 * ```
 */
export function sharedTask<F extends AnyFn>(fn: F): Task<Parameters<F>, ReturnType<F>>;
/** Defines a shared task with task options. */
export function sharedTask<F extends AnyFn>(options: TaskDecoratorOptions, fn: F): Task<Parameters<F>, ReturnType<F>>;
export function sharedTask(a: AnyFn | TaskDecoratorOptions, b?: AnyFn): Task {
  const [options, fn] = typeof a === "function" ? [{}, a] : [a, b];
  if (typeof fn !== "function") throw new TypeError("Cannot define a shared task: give it a function (sharedTask(fn) or sharedTask(options, fn))");
  const d: Definition = { options, fn, tasks: new Map() };
  definitions.push(d);
  for (const app of registries) d.tasks.set(app, app.task(options, fn));
  const resolve = (): Task => {
    const app = (currentTask()?.task as { app?: Registry } | undefined)?.app ?? current;
    const task = app && d.tasks.get(app);
    if (!task) throw new TypeError(`Cannot use shared task ${fn.name || "(anonymous)"}: no App is created yet; create one with new App("name")`);
    return task;
  };
  return new Proxy({} as Task, {
    get(_target, key) {
      const task = resolve();
      const value = Reflect.get(task, key, task);
      return typeof value === "function" ? value.bind(task) : value;
    },
    has: (_target, key) => Reflect.has(resolve(), key),
    getPrototypeOf: () => Reflect.getPrototypeOf(resolve()),
  });
}
