/**
 * The monitoring dashboard: one self-contained HTML page (inline style and script, no
 * external assets) that charts a PromQL range query as inline SVG, lists pending and firing
 * alerts, and shows the top error issues with their stack traces. It calls the tenant's own
 * APIs with the token typed into it (kept in the browser's localStorage); every value from
 * the APIs is inserted as text, never as markup.
 */
import { DASHBOARD_SCRIPT } from './script'

export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>edgeblocks monitoring</title>
<style>
  :root { --fg: #1d2330; --muted: #667085; --line: #d0d5dd; --bg: #f8f9fb; --accent: #2f6fed; --bad: #c4320a; --warn: #b54708; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.45 system-ui, sans-serif; color: var(--fg); background: var(--bg); }
  header { display: flex; gap: 12px; align-items: center; padding: 10px 20px; background: #fff; border-bottom: 1px solid var(--line); }
  header h1 { font-size: 16px; margin: 0 auto 0 0; }
  main { display: grid; gap: 16px; padding: 16px 20px; grid-template-columns: minmax(0, 2fr) minmax(0, 1fr); }
  section { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 12px 16px; min-width: 0; }
  section.wide { grid-column: 1 / -1; }
  h2 { font-size: 14px; margin: 0 0 8px; }
  input, select, button { font: inherit; padding: 5px 8px; border: 1px solid var(--line); border-radius: 4px; background: #fff; }
  button { background: var(--accent); color: #fff; border-color: var(--accent); cursor: pointer; }
  form { display: flex; gap: 8px; margin-bottom: 8px; }
  #query { flex: 1; font-family: ui-monospace, monospace; }
  #chart { width: 100%; height: 300px; display: block; }
  #chart .axis { stroke: var(--line); }
  #chart text { font-size: 11px; fill: var(--muted); }
  #chart path.series { fill: none; stroke-width: 1.6; }
  .legend { display: flex; flex-wrap: wrap; gap: 4px 14px; font: 12px ui-monospace, monospace; margin-top: 6px; }
  .legend i { display: inline-block; width: 10px; height: 10px; margin-right: 4px; border-radius: 2px; }
  .status { color: var(--muted); font-size: 12px; min-height: 1.4em; }
  .status.error { color: var(--bad); }
  ul.plain { list-style: none; margin: 0; padding: 0; }
  ul.plain > li { border-top: 1px solid var(--line); padding: 6px 0; }
  .state { font-weight: 600; text-transform: uppercase; font-size: 11px; }
  .state.firing { color: var(--bad); } .state.pending { color: var(--warn); }
  .labels { font: 12px ui-monospace, monospace; color: var(--muted); word-break: break-all; }
  details summary { cursor: pointer; }
  .count { float: right; color: var(--muted); }
  ol.frames { font: 12px ui-monospace, monospace; margin: 6px 0; padding-left: 22px; }
  ol.frames li.in-app { font-weight: 600; }
  ol.frames li:not(.in-app) { color: var(--muted); }
  @media (max-width: 900px) { main { grid-template-columns: 1fr; } }
</style>
</head>
<body>
<header>
  <h1>edgeblocks monitoring</h1>
  <label for="token">Token</label>
  <input id="token" type="password" size="32" placeholder="Bearer token (monitoring:read)" autocomplete="off">
  <button id="save" type="button">Use token</button>
</header>
<main>
  <section class="wide">
    <h2>Query</h2>
    <form id="query-form">
      <input id="query" name="query" spellcheck="false" value="sum by (job) (rate(edgeblocks_http_requests_total[5m]))" aria-label="PromQL expression">
      <select id="range" aria-label="Range">
        <option value="900">15m</option><option value="3600" selected>1h</option><option value="21600">6h</option>
        <option value="86400">24h</option><option value="604800">7d</option>
      </select>
      <button type="submit">Run</button>
    </form>
    <div id="query-status" class="status"></div>
    <svg id="chart" viewBox="0 0 800 300" preserveAspectRatio="none" role="img" aria-label="Query result over time"></svg>
    <div id="legend" class="legend"></div>
  </section>
  <section>
    <h2>Top error issues</h2>
    <div id="issues-status" class="status"></div>
    <ul id="issues" class="plain"></ul>
  </section>
  <section>
    <h2>Alerts</h2>
    <div id="alerts-status" class="status"></div>
    <ul id="alerts" class="plain"></ul>
  </section>
</main>
<script>${DASHBOARD_SCRIPT}</script>
</body>
</html>
`
