/**
 * `/docs`: the API reference, rendered in the browser from `/openapi.json` by a small
 * script served inline by the Worker itself. No CDN, no external URL: it works offline.
 */
export const DOCS_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>edgeblocks API reference</title>
<style>
  body { font: 15px/1.5 system-ui, sans-serif; margin: 0; color: #1d2330; background: #f7f8fa; }
  header { background: #1d2330; color: #fff; padding: 16px 32px; }
  main { max-width: 1000px; margin: 0 auto; padding: 16px 32px 64px; }
  h2 { border-bottom: 1px solid #d5d9e0; padding-bottom: 4px; margin-top: 32px; }
  details { background: #fff; border: 1px solid #d5d9e0; border-radius: 6px; margin: 8px 0; }
  summary { cursor: pointer; padding: 8px 12px; font-family: ui-monospace, monospace; }
  .method { display: inline-block; min-width: 64px; font-weight: 700; }
  .GET { color: #0a7c42; } .POST { color: #1259c3; } .PUT { color: #9a5b00; } .PATCH { color: #7a3fb8; } .DELETE { color: #c0262d; }
  .op { padding: 0 16px 12px; }
  pre { background: #f0f2f5; padding: 8px; overflow: auto; font-size: 13px; }
  .scope { font-size: 12px; background: #eef; border-radius: 4px; padding: 1px 6px; margin-left: 8px; }
</style>
</head>
<body>
<header><strong>edgeblocks</strong> API reference · <a style="color:#9cf" href="/openapi.json">openapi.json</a></header>
<main id="reference"><p>Loading…</p></main>
<script type="module">
  const main = document.getElementById('reference')
  const el = (tag, attrs = {}, ...children) => {
    const node = document.createElement(tag)
    for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value)
    for (const child of children) node.append(child)
    return node
  }
  const json = (value) => el('pre', {}, JSON.stringify(value, null, 2))
  const doc = await (await fetch('/openapi.json')).json()
  main.replaceChildren(el('h1', {}, doc.info.title + ' ' + doc.info.version), el('p', {}, doc.info.description ?? ''))
  const byTag = new Map()
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    for (const [method, op] of Object.entries(item)) {
      const tag = (op.tags ?? ['other'])[0]
      if (!byTag.has(tag)) byTag.set(tag, [])
      byTag.get(tag).push({ path, method: method.toUpperCase(), op })
    }
  }
  for (const [tag, ops] of byTag) {
    main.append(el('h2', { id: 'tag-' + tag }, tag))
    for (const { path, method, op } of ops) {
      const head = el('summary', {}, el('span', { class: 'method ' + method }, method), path + '  ', op.summary ?? '')
      if (op['x-required-scope']) head.append(el('span', { class: 'scope' }, op['x-required-scope']))
      const body = el('div', { class: 'op' })
      if (op.description) body.append(el('p', {}, op.description))
      if (op.parameters?.length) body.append(el('h4', {}, 'Parameters'), json(op.parameters))
      if (op.requestBody) body.append(el('h4', {}, 'Request body'), json(op.requestBody.content))
      body.append(el('h4', {}, 'Responses'), json(op.responses))
      main.append(el('details', {}, head, body))
    }
  }
</script>
</body>
</html>
`
