/**
 * The page's stylesheet, embedded in the binary as a string.
 * @module
 */

/** The CSS served at `/assets/app.css`. */
export const STYLE_CSS = String.raw`
:root { --bg: #f6f7f9; --fg: #1d2330; --muted: #6b7280; --line: #e3e6eb; --card: #fff; --accent: #2f6fde;
  --ok: #1f8f4e; --bad: #c73a3a; --warn: #b7791f; --run: #2f6fde; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; background: var(--bg); color: var(--fg); }
header { display: flex; align-items: center; gap: 16px; padding: 10px 20px; background: #16202e; color: #fff; }
header .brand { font-weight: 700; letter-spacing: .5px; }
header .prefix { color: #9fb0c8; font-size: 12px; border: 1px solid #33445c; border-radius: 4px; padding: 0 6px; }
header nav { display: flex; gap: 4px; flex: 1; }
header nav a { color: #c9d4e5; text-decoration: none; padding: 4px 10px; border-radius: 4px; }
header nav a.active, header nav a:hover { background: #2a3a52; color: #fff; }
.live { color: #556; font-size: 12px; } .live.on { color: #3ddc84; }
.banner { background: #fde8e8; color: #8a1f1f; border-bottom: 1px solid #f3b4b4; padding: 8px 20px; font-weight: 600; }
main { padding: 18px 20px; max-width: 1400px; margin: 0 auto; }
h1 { font-size: 20px; margin: 0 0 14px; } h2 { font-size: 15px; margin: 20px 0 8px; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: 10px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; }
.card .n { font-size: 22px; font-weight: 600; } .card .l { color: var(--muted); font-size: 12px; }
.charts { display: grid; grid-template-columns: 1fr 1fr; gap: 10px; margin-top: 10px; }
.chart { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px; }
.chart svg { width: 100%; height: 120px; display: block; }
.chart .t { color: var(--muted); font-size: 12px; display: flex; justify-content: space-between; }
table { width: 100%; border-collapse: collapse; background: var(--card); border: 1px solid var(--line); border-radius: 6px; overflow: hidden; }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: #eef1f5; font-weight: 600; font-size: 12px; color: #3b4556; }
td.mono, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12px; }
td.trunc { max-width: 320px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
a { color: var(--accent); } a.id { white-space: nowrap; font-size: 11.5px; }
td { white-space: nowrap; } td.trunc, td.wrap { white-space: normal; }
.state { display: inline-block; padding: 0 7px; border-radius: 10px; font-size: 11px; font-weight: 700; background: #e6e9ef; color: #3b4556; }
.state.SUCCESS { background: #dcf3e5; color: var(--ok); } .state.FAILURE, .state.REJECTED { background: #fbe0e0; color: var(--bad); }
.state.STARTED, .state.RECEIVED { background: #dfe9fb; color: var(--run); } .state.RETRY { background: #fcefd9; color: var(--warn); }
.state.REVOKED { background: #ece3f7; color: #6b3fa0; }
form.search { display: flex; gap: 8px; margin-bottom: 10px; }
input, select, button { font: inherit; padding: 5px 9px; border: 1px solid #c8cfd9; border-radius: 4px; background: #fff; }
input[type=search] { flex: 1; }
button { cursor: pointer; background: #f3f5f8; } button:hover { background: #e8ecf2; }
button.danger { color: var(--bad); border-color: #e6b3b3; } button.primary { background: var(--accent); color: #fff; border-color: var(--accent); }
button:disabled { opacity: .5; cursor: default; }
.kv { display: grid; grid-template-columns: 160px 1fr; gap: 4px 12px; background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: 12px; }
.kv .k { color: var(--muted); }
pre { background: #1b2230; color: #e6edf7; padding: 12px; border-radius: 6px; overflow: auto; font-size: 12px; white-space: pre-wrap; }
.muted { color: var(--muted); } .actions { display: flex; gap: 8px; margin: 12px 0; align-items: center; }
.pager { display: flex; gap: 8px; align-items: center; margin-top: 8px; }
.note { background: #fff8e6; border: 1px solid #f0dca8; padding: 10px 12px; border-radius: 6px; }
.flash { position: fixed; bottom: 16px; right: 16px; background: #16202e; color: #fff; padding: 8px 14px; border-radius: 6px; }
`;
