/**
 * Turning valibot's issues into what a person reads: which argument (index and parameter
 * name), which field (`.value`, `[2].name`) and valibot's own message, e.g.
 * `argument 0 (arg) .value: Invalid type: Expected number but received "nope"`.
 * @module
 */
import type { BaseIssue, IssuePathItem } from "valibot";

/** How many issues a message spells out before it says "and N more". */
const SHOWN_ISSUES = 3;

/** Prepends one path step (an argument's index) to each issue, so paths name the argument. */
export function underArgument(issues: readonly BaseIssue<unknown>[], index: number, args: readonly unknown[]): BaseIssue<unknown>[] {
  const step = { type: "array", origin: "value", input: args, key: index, value: args[index] } as IssuePathItem;
  return issues.map((issue) => ({ ...issue, path: [step, ...(issue.path ?? [])] }) as BaseIssue<unknown>);
}

/** `.value[2].name` for a path of keys (empty for the root). */
export function renderPath(keys: readonly unknown[]): string {
  let out = "";
  for (const key of keys) {
    if (typeof key === "number") out += `[${key}]`;
    else if (typeof key === "string" && /^[A-Za-z_$][\w$]*$/.test(key)) out += `.${key}`;
    else out += `[${JSON.stringify(typeof key === "string" ? key : String(key))}]`;
  }
  return out;
}

/** Where an issue points, in words. */
export interface IssueSubject {
  /** How the top of the path reads: `argument 0 (arg)`, `keyword argument`, `return value`. */
  label(issue: BaseIssue<unknown>): { head: string; skip: number };
}

/** Subjects of positional arguments (the first path key is the index) and their names. */
export function argumentSubject(names: readonly (string | undefined)[]): IssueSubject {
  return {
    label(issue) {
      const index = issue.path?.[0]?.key;
      if (typeof index !== "number") return { head: "arguments", skip: 0 };
      const name = names[index];
      return { head: `argument ${index}${name ? ` (${name})` : ""}`, skip: 1 };
    },
  };
}

/** Subjects of the keyword arguments object (the first path key is the keyword). */
export const kwargsSubject: IssueSubject = {
  label(issue) {
    const key = issue.path?.[0]?.key;
    if (key === undefined) return { head: "keyword arguments", skip: 0 };
    return { head: `keyword argument ${String(key)}`, skip: 1 };
  },
};

/** The subject of a return value. */
export const returnSubject: IssueSubject = {
  label: () => ({ head: "return value", skip: 0 }),
};

/** One line per issue, joined: `argument 0 (arg) .value: Invalid type: …; …`. */
export function describe(issues: readonly BaseIssue<unknown>[], subject: IssueSubject): string {
  const parts = issues.slice(0, SHOWN_ISSUES).map((issue) => {
    const { head, skip } = subject.label(issue);
    const rest = renderPath((issue.path ?? []).slice(skip).map((p) => p.key));
    return `${head}${rest ? ` ${rest}` : ""}: ${issue.message}`;
  });
  const more = issues.length - SHOWN_ISSUES;
  return parts.join("; ") + (more > 0 ? `; and ${more} more issue${more === 1 ? "" : "s"}` : "");
}
