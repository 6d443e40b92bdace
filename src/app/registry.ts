/**
 * Registering tasks on an App: function tasks (`app.task`), class tasks (`app.register`),
 * anonymous arrows numbered in registration order and aliased to their export names, and the
 * one rule every registration passes: a name is taken once.
 * @module
 */
import { Task } from "./task.ts";
import type { AnyFn, TaskClass, TaskDecoratorOptions } from "./decorator.ts";
import { arityOf } from "../validate/arity.ts";
import { noteBody } from "../validate/params.ts";
import { validationOf } from "../validate/validate.ts";
import { checkName } from "../nats/names.ts";
import { checkFlowOptions } from "./flow.ts";

/** What registration needs of an App (an `App` is one). */
export interface TaskRegistry {
  readonly main: string;
  readonly tasks: Map<string, Task>;
  readonly config: { readonly taskCls?: TaskClass };
  genTaskName(name: string): string;
}

const anonymousTasks = new WeakSet<Task>();
const anonymousCounts = new WeakMap<TaskRegistry, number>();

/** `app.task(fn)` / `app.task(options, fn)`: makes the task and registers it. */
export function defineTask(app: TaskRegistry, a: AnyFn | TaskDecoratorOptions, b?: AnyFn): Task {
  const [options, fn] = typeof a === "function" ? [{} as TaskDecoratorOptions, a] : [a, b];
  if (typeof fn !== "function") throw new TypeError("Cannot register task: app.task() needs a function");
  // An arrow passed straight to app.task() has no name: number it in registration order,
  // the same in every process (and runtime) that loads the module; the worker also registers
  // it under its export name (see exportAliases).
  const anonymous = !options.name && !fn.name;
  let name = options.name;
  if (name === undefined) {
    if (fn.name) name = app.genTaskName(fn.name);
    else {
      const n = (anonymousCounts.get(app) ?? 0) + 1;
      anonymousCounts.set(app, n);
      name = app.genTaskName(`anonymous_${n}`);
    }
  }
  const Base = options.base ?? app.config.taskCls ?? Task;
  const task = new Base() as Task;
  const { base: _base, ...rest } = options;
  Object.assign(task, rest);
  const bind = options.bind ?? false;
  task.run = bind ? (...args: unknown[]) => fn(task, ...args) : fn;
  task.arity = arityOf(fn, bind ? 1 : 0);
  noteBody(task, fn, bind ? 1 : 0);
  if (anonymous) anonymousTasks.add(task);
  return addTask(app, task, name);
}

/** `app.register(Class)`: registers a Task subclass's one instance. */
export function registerClass<T extends Task>(app: TaskRegistry, Cls: new () => T, options: TaskDecoratorOptions = {}): T {
  if (typeof Cls !== "function") throw new TypeError("Cannot register: app.register() needs a Task subclass");
  const task = new Cls();
  if (!(task instanceof Task)) throw new TypeError(`Cannot register ${Cls.name}: it does not extend Task`);
  const { base: _base, ...rest } = options;
  Object.assign(task, rest);
  const name = options.name ?? (Object.hasOwn(task, "name") ? task.name : undefined) ?? app.genTaskName(Cls.name);
  task.arity = arityOf(task.run);
  return addTask(app, task, name);
}

/** Registers the anonymous tasks among a module's exports under their export names too. */
export function exportAliases(app: TaskRegistry, exports: Record<string, unknown>): string[] {
  const added: string[] = [];
  for (const [key, value] of Object.entries(exports)) {
    if (!(value instanceof Task) || (value.app as unknown) !== app || !anonymousTasks.has(value)) continue;
    const alias = app.genTaskName(key);
    if (app.tasks.has(alias)) continue;
    app.tasks.set(alias, value);
    added.push(alias);
  }
  return added;
}

function addTask<T extends Task>(app: TaskRegistry, task: T, name: string): T {
  const taken = app.tasks.get(name);
  if (taken && taken !== task) {
    throw new TypeError(
      `Cannot register ${describeTask(task)} as ${name} in app ${app.main}: ${describeTask(taken)} is registered under that name already; give one of them another name ({ name: "…" })`,
    );
  }
  task.name = name;
  (task as { app: unknown }).app = app;
  if (task.queue) checkName("queue", task.queue);
  checkFlowOptions(name, task);
  if (validationOf(task)?.ownsArity) task.arity = undefined; // the schemas count the arguments
  app.tasks.set(name, task);
  return task;
}

/** How a task reads in an error: its class, or the function it runs. */
function describeTask(task: Task): string {
  const cls = task.constructor?.name;
  if (cls && cls !== "Task") return `class ${cls}`;
  const fn = (task.run as { name?: string }).name;
  return fn ? `function ${fn}` : "an anonymous function";
}
