// The module `bench/beat.ts` runs `dist/taskd beat` on: one app, no code-defined schedules (the
// bench stores 10,000 at run time), on the default prefix.
import { App } from "taskd";

export const app = new App("bb");
