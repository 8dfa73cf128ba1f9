/** The report's stylesheet (inlined in every report: small, and the page must look right offline). */

export const CSS = `
:root { --fg: #1f2937; --muted: #6b7280; --line: #e5e7eb; --bg: #f6f7f9; --card: #fff; --ok: #15803d; --bad: #b91c1c; --warn: #b45309; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg); font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
code, .dtype, table.rows td { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; font-size: 12px; }
.container { max-width: 1180px; margin: 0 auto; padding: 24px 20px 40px; }
.muted { color: var(--muted); font-weight: normal; }
header.run { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 18px 22px; margin-bottom: 18px; }
.eyebrow { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .06em; }
h1 { margin: 4px 0 12px; font-size: 26px; font-weight: 650; }
h1 .dt { color: var(--muted); font-weight: 500; }
.status { display: inline-block; vertical-align: middle; font-size: 13px; font-weight: 600; padding: 2px 10px; border-radius: 999px; margin-left: 6px; }
.status-succeeded { background: #dcfce7; color: var(--ok); }
.status-failed { background: #fee2e2; color: var(--bad); }
.status-cancelled, .status-skipped { background: #f3f4f6; color: var(--muted); }
dl { margin: 0; }
dl.facts { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: 10px; }
.fact { background: #f9fafb; border: 1px solid var(--line); border-radius: 8px; padding: 8px 12px; min-width: 0; }
.fact dt { font-size: 11px; color: var(--muted); text-transform: uppercase; letter-spacing: .05em; }
.fact dd { margin: 2px 0 0; font-size: 17px; font-weight: 600; overflow-wrap: anywhere; }
.fact dd[data-field="run-id"] { font-size: 13px; font-family: ui-monospace, Menlo, Consolas, monospace; font-weight: 500; }
.body .error { margin: 4px 0 12px; }
.error { margin-top: 14px; background: #fef2f2; border: 1px solid #fecaca; color: var(--bad); border-radius: 8px; padding: 10px 14px; }
.error pre { margin: 6px 0 0; white-space: pre-wrap; overflow-wrap: anywhere; font-size: 12px; color: #7f1d1d; }
section.cell { display: grid; grid-template-columns: 44px minmax(0, 1fr); gap: 8px; margin-bottom: 14px; }
.gutter { color: #9ca3af; font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 12px; padding-top: 16px; text-align: right; }
.body { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 14px 18px; min-width: 0; }
h2 { margin: 0 0 2px; font-size: 17px; font-weight: 600; }
h3 { margin: 0 0 6px; font-size: 12px; font-weight: 600; color: #374151; text-transform: uppercase; letter-spacing: .04em; }
.badge { display: inline-block; vertical-align: 2px; font-size: 11px; font-weight: 600; text-transform: uppercase; letter-spacing: .05em; padding: 2px 8px; border-radius: 5px; margin-right: 4px; }
.badge-extract { background: #dbeafe; color: #1d4ed8; }
.badge-transform { background: #ede9fe; color: #6d28d9; }
.badge-validate { background: #fef3c7; color: #92400e; }
.badge-load { background: #dcfce7; color: #166534; }
.badge-charts { background: #e0f2fe; color: #075985; }
.meta { color: var(--muted); margin-bottom: 10px; }
dl.kv { display: flex; flex-wrap: wrap; gap: 6px 22px; margin-bottom: 12px; }
dl.kv > div { min-width: 0; }
dl.kv dt { font-size: 11px; color: var(--muted); text-transform: uppercase; letter-spacing: .04em; }
dl.kv dd { margin: 0; font-weight: 600; }
.chip { display: inline-block; font-size: 12px; font-weight: 600; padding: 1px 8px; border-radius: 999px; margin: 1px 2px 1px 0; }
.chip-ok { background: #dcfce7; color: var(--ok); }
.chip-bad { background: #fee2e2; color: var(--bad); }
.warn { color: var(--warn); font-weight: normal; }
ul.partitions { margin: 0; padding: 0; list-style: none; display: flex; flex-wrap: wrap; gap: 4px 10px; font-weight: normal; }
.grid { display: grid; grid-template-columns: minmax(170px, 240px) minmax(0, 1fr); gap: 18px; align-items: start; margin-top: 12px; }
details.unchanged { margin-top: 10px; font-size: 13px; }
details.unchanged > summary { cursor: pointer; }
@media (max-width: 800px) { .grid { grid-template-columns: minmax(0, 1fr); } }
.scroll { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); vertical-align: baseline; }
th { font-size: 11px; color: var(--muted); font-weight: 600; background: #f9fafb; white-space: nowrap; }
table.rows td { white-space: nowrap; }
table.schema-table td { padding: 2px 8px; white-space: nowrap; }
table.rows td { padding: 2px 8px; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.null { color: #9ca3af; font-style: italic; }
.dtype { color: #6d28d9; }
table.checks { font-size: 13px; }
table.checks td { vertical-align: baseline; }
table.checks td:first-child { max-width: 340px; overflow-wrap: break-word; }
table.checks td:last-child { max-width: 360px; overflow-wrap: anywhere; }
table.checks tr.fail td { background: #fff7f7; }
td.mark { text-align: center; font-size: 15px; }
.ok { color: var(--ok); font-weight: 700; }
.bad { color: var(--bad); font-weight: 700; }
.sev { font-size: 11px; font-weight: 600; padding: 1px 6px; border-radius: 4px; }
.sev-error { background: #fee2e2; color: var(--bad); }
.sev-warn { background: #fef3c7; color: var(--warn); }
.sample { display: block; }
.detail { display: block; color: #374151; margin-bottom: 2px; }
table.checks tr.skip td { color: var(--muted); }
.charts { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 18px; }
@media (max-width: 900px) { .charts { grid-template-columns: minmax(0, 1fr); } }
figure.chart { margin: 0; border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; min-width: 0; }
figcaption { font-weight: 600; margin-bottom: 6px; }
.canvas-box { position: relative; height: 240px; }
.canvas-box.canvas-tall { height: 280px; }
figure.chart details { margin-top: 6px; font-size: 12px; color: var(--muted); }
table.chart-data th, table.chart-data td { padding: 1px 8px; font-size: 12px; }
footer { margin-top: 20px; font-size: 12px; text-align: center; }
`;
