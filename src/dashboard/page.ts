/**
 * The page shell every view shares: navigation, the broker banner and a `<main>` the embedded
 * script fills. The CSRF token travels in a `<meta>` tag; the script sends it back on POSTs.
 * @module
 */

const NAV: [string, string][] = [["/", "Overview"], ["/tasks", "Tasks"], ["/workers", "Workers"], ["/queues", "Queues"], ["/dead", "Dead letters"], ["/schedules", "Schedules"]];

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

/** The HTML of the shell, with `token` for POSTs and the app's `prefix` in the title. */
export function pageHtml(token: string, prefix: string): string {
  const nav = NAV.map(([href, label]) => `<a href="${href}" data-view="${href}">${label}</a>`).join("");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="taskd-csrf" content="${escapeHtml(token)}">
<title>taskd · ${escapeHtml(prefix)}</title>
<link rel="stylesheet" href="/assets/app.css">
</head>
<body>
<header><span class="brand">taskd</span><span class="prefix">${escapeHtml(prefix)}</span><nav>${nav}</nav><span id="live" class="live" title="live updates">●</span></header>
<div id="banner" class="banner" hidden></div>
<main id="main"><p class="muted">Loading…</p></main>
<script src="/assets/app.js"></script>
</body>
</html>
`;
}
