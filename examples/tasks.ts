/**
 * Example tasks: what `make run` serves. Run `dist/taskd call tasks.add 2 3 --wait` beside it.
 * @module
 */
import { App, Task } from "taskd";

export const app = new App("tasks");

/** tasks.add */
export const add = app.task(function add(x: number, y: number) {
  return x + y;
});

/** math.mul: a name given explicitly. */
export const named = app.task({ name: "math.mul" }, (x: number, y: number) => x * y);

/** tasks.scale: keyword arguments arrive as one trailing object. */
export const scale = app.task(function scale(x: number, o: { factor: number }) {
  return x * o.factor;
});

/** tasks.NaiveAuthenticateServer: a class task keeps its state between calls. */
export const Auth = app.register(class NaiveAuthenticateServer extends Task {
  users = new Map([["george", "password"]]);
  run(u: string, p: string) {
    return this.users.get(u) === p;
  }
});
