/**
 * The dashboard page's script (plain browser JavaScript in a string, inlined by page.ts):
 * token handling, the range query chart (one SVG path per series, at most 24 series), the
 * alerts list and the error issues. API text only ever reaches the page via `textContent`.
 */
export const DASHBOARD_SCRIPT = `
'use strict'
const KEY = 'edgeblocks.monitoring.token'
const $ = (id) => document.getElementById(id)
const SVG = 'http://www.w3.org/2000/svg'
const COLORS = ['#2f6fed', '#c4320a', '#079455', '#b54708', '#7a5af8', '#0e9384', '#dd2590', '#475467']
const MAX_SERIES = 24

function el(tag, props, ...children) {
  const node = document.createElement(tag)
  Object.assign(node, props || {})
  for (const c of children) node.append(c)
  return node
}
function svg(tag, attrs) {
  const node = document.createElementNS(SVG, tag)
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v))
  return node
}
function status(id, text, error) {
  const node = $(id)
  node.textContent = text
  node.classList.toggle('error', Boolean(error))
}

async function api(path) {
  const token = localStorage.getItem(KEY) || ''
  const response = await fetch(path, { headers: token ? { authorization: 'Bearer ' + token } : {} })
  let body = null
  try { body = await response.json() } catch { body = null }
  if (!response.ok) {
    const detail = body && (body.error || body.detail || body.title)
    const error = new Error(detail ? String(detail) : 'HTTP ' + response.status)
    error.status = response.status
    throw error
  }
  return body
}

const labelText = (metric) => {
  const pairs = Object.entries(metric).filter(([k]) => k !== '__name__').map(([k, v]) => k + '="' + v + '"')
  return (metric.__name__ || '') + '{' + pairs.join(', ') + '}'
}
const shortNumber = (v) => (Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-2 && v !== 0) ? v.toExponential(2) : String(+v.toFixed(3)))
const clock = (t, span) => {
  const d = new Date(t * 1000)
  return span > 86400 ? d.toISOString().slice(5, 16).replace('T', ' ') : d.toISOString().slice(11, 16)
}

function drawChart(result, start, end) {
  const chart = $('chart')
  const legend = $('legend')
  chart.replaceChildren()
  legend.replaceChildren()
  const series = result.slice(0, MAX_SERIES).map((s) => ({
    metric: s.metric,
    points: (s.values || []).map(([t, v]) => [t, Number(v)]).filter(([, v]) => Number.isFinite(v)),
  }))
  const values = series.flatMap((s) => s.points.map(([, v]) => v))
  let lo = values.length ? Math.min(...values) : 0
  let hi = values.length ? Math.max(...values) : 1
  if (hi === lo) { hi += 1; lo -= lo === 0 ? 0 : 1 }
  const W = 800, H = 300, L = 56, R = 8, T = 8, B = 22
  const x = (t) => L + ((t - start) / (end - start || 1)) * (W - L - R)
  const y = (v) => T + (1 - (v - lo) / (hi - lo)) * (H - T - B)
  chart.append(svg('line', { class: 'axis', x1: L, y1: T, x2: L, y2: H - B }))
  chart.append(svg('line', { class: 'axis', x1: L, y1: H - B, x2: W - R, y2: H - B }))
  for (let i = 0; i <= 4; i++) {
    const v = lo + ((hi - lo) * i) / 4
    const label = svg('text', { x: L - 4, y: y(v) + 4, 'text-anchor': 'end' })
    label.textContent = shortNumber(v)
    chart.append(label, svg('line', { class: 'axis', x1: L, y1: y(v), x2: W - R, y2: y(v), 'stroke-dasharray': '2 4' }))
    const t = start + ((end - start) * i) / 4
    const time = svg('text', { x: x(t), y: H - 6, 'text-anchor': i === 0 ? 'start' : i === 4 ? 'end' : 'middle' })
    time.textContent = clock(t, end - start)
    chart.append(time)
  }
  series.forEach((s, i) => {
    if (s.points.length === 0) return
    const color = COLORS[i % COLORS.length]
    const d = s.points.map(([t, v], j) => (j === 0 ? 'M' : 'L') + x(t).toFixed(1) + ' ' + y(v).toFixed(1)).join(' ')
    const path = svg('path', { class: 'series', d, stroke: color })
    const title = svg('title', {})
    title.textContent = labelText(s.metric)
    path.append(title)
    chart.append(path)
    legend.append(el('span', {}, el('i', { style: 'background:' + color }), labelText(s.metric)))
  })
  return series.length
}

async function runQuery() {
  const query = $('query').value.trim()
  if (!query) return
  // The query and range live in the address (#q=…&range=…), so a reload or a link keeps them.
  history.replaceState(null, '', '#' + new URLSearchParams({ q: query, range: $('range').value }))
  const range = Number($('range').value)
  const end = Math.floor(Date.now() / 1000)
  const start = end - range
  const step = Math.max(1, Math.ceil(range / 240))
  status('query-status', 'Running…')
  try {
    const params = new URLSearchParams({ query, start: String(start), end: String(end), step: String(step) })
    const body = await api('/v1/monitoring/prometheus/api/v1/query_range?' + params)
    const result = body.data.resultType === 'matrix' ? body.data.result : []
    const shown = drawChart(result, start, end)
    status('query-status', result.length + ' series' + (result.length > shown ? ' (first ' + shown + ' shown)' : '') + ', step ' + step + 's')
  } catch (error) {
    drawChart([], start, end)
    status('query-status', error.message, true)
  }
}

const withoutName = (labels) => Object.fromEntries(Object.entries(labels).filter(([k]) => k !== 'alertname'))

async function loadAlerts() {
  const list = $('alerts')
  list.replaceChildren()
  try {
    const body = await api('/v1/monitoring/prometheus/api/v1/alerts')
    const alerts = body.data.alerts || []
    alerts.sort((a, b) => (a.state === b.state ? 0 : a.state === 'firing' ? -1 : 1))
    for (const a of alerts) {
      const summary = (a.annotations && (a.annotations.summary || a.annotations.description)) || ''
      list.append(
        el('li', { className: 'alert' },
          el('span', { className: 'state ' + a.state, textContent: a.state }), ' ',
          el('strong', { textContent: a.labels.alertname || '' }),
          el('span', { className: 'count', textContent: 'since ' + (a.activeAt || '').slice(0, 19).replace('T', ' ') }),
          el('div', { textContent: summary }),
          el('div', { className: 'labels', textContent: labelText(withoutName(a.labels)) + ' = ' + a.value })))
    }
    status('alerts-status', alerts.length ? alerts.length + ' active' : 'No pending or firing alerts.')
  } catch (error) {
    status('alerts-status', error.message, true)
  }
}

const listOf = (body, key) => (body && body[key]) || []

async function loadIssues() {
  const list = $('issues')
  list.replaceChildren()
  try {
    const projects = listOf(await api('/v1/monitoring/projects'), 'projects').slice(0, 10)
    const issues = []
    for (const p of projects) {
      // Projects are addressed by their numeric id (as in a DSN); the name is for reading.
      const found = listOf(await api('/v1/monitoring/projects/' + encodeURIComponent(p.id) + '/issues?limit=10'), 'issues')
      for (const issue of found) issues.push(Object.assign({ project: p.name || String(p.id) }, issue))
    }
    issues.sort((a, b) => (b.count || 0) - (a.count || 0))
    for (const issue of issues.slice(0, 10)) {
      const frames = el('ol', { className: 'frames' })
      for (const f of (issue.stacktrace || []).slice().reverse()) {
        const where = (f.filename || '?') + (f.lineno ? ':' + f.lineno + (f.colno ? ':' + f.colno : '') : '')
        frames.append(el('li', { className: f.inApp ? 'in-app' : '', textContent: (f.function || '<anonymous>') + ' (' + where + ')' }))
      }
      list.append(
        el('li', { className: 'issue' },
          el('details', {},
            el('summary', {},
              el('span', { className: 'count', textContent: (issue.count || 0) + ' events · ' + (issue.userCount || 0) + ' users' }),
              el('strong', { textContent: issue.title || '(untitled)' })),
            el('div', { className: 'labels', textContent: [issue.project, issue.level, issue.status, issue.culprit].filter(Boolean).join(' · ') }),
            el('div', { className: 'labels', textContent: 'first seen ' + (issue.firstSeen || '?') + ' · last seen ' + (issue.lastSeen || '?') + (issue.lastRelease ? ' · release ' + issue.lastRelease : '') }),
            frames)))
    }
    status('issues-status', issues.length ? '' : 'No error issues.')
  } catch (error) {
    status('issues-status', error.status === 404 ? 'Error monitoring is not available here.' : error.message, error.status !== 404)
  }
}

function refresh() {
  if (!localStorage.getItem(KEY)) {
    status('query-status', 'Enter a token with the monitoring:read scope.', true)
    return
  }
  runQuery()
  loadAlerts()
  loadIssues()
}

const fromHash = new URLSearchParams(location.hash.slice(1))
if (fromHash.get('q')) $('query').value = fromHash.get('q')
if (fromHash.get('range')) $('range').value = fromHash.get('range')
$('token').value = localStorage.getItem(KEY) || ''
$('save').addEventListener('click', () => {
  localStorage.setItem(KEY, $('token').value.trim())
  refresh()
})
$('query-form').addEventListener('submit', (event) => {
  event.preventDefault()
  runQuery()
})
refresh()
`
