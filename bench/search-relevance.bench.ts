/**
 * Search relevance on the Cranfield collection (1,400 aerodynamics abstracts, 225 queries,
 * graded judgments; `../shared/data/cranfield` beside the repository, see its README):
 * nDCG@10 of the search block, driven through the real platform with the `meilisearch`
 * client, against a plain SQLite FTS5 `bm25()` ranking (porter unicode61 tokenizer, title
 * and text, OR of the query terms) computed in the same run with the `libsql` engine.
 * Gains are linear (gain / log2(rank + 1)), as in trec_eval's ndcg_cut_10.
 */
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import Database from 'libsql'
import { Meilisearch } from 'meilisearch'
import { type RunningPlatform, startPlatform } from '../scripts/platform-process'
import { printTable } from './harness'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
/** `CRANFIELD_DIR` overrides where the collection is (default: beside the repository). */
const dataDir = resolve(root, process.env.CRANFIELD_DIR ?? '../shared/data/cranfield')

interface CranDoc {
  id: string
  title: string
  author: string
  bib: string
  text: string
}

/** A common English stop-word list (the SMART list's most frequent function words). */
const STOP_WORDS = (
  'a about above after again against all am an and any are as at be because been before being below between both but by ' +
  'can could did do does doing down during each few for from further had has have having he her here hers him his how ' +
  'i if in into is it its itself just me more most my no nor not now of off on once only or other our out over own ' +
  'same she should so some such than that the their them then there these they this those through to too under until ' +
  'up very was we were what when where which while who whom why will with would you your'
).split(' ')

function readJsonl<T>(file: string): T[] {
  return readFileSync(join(dataDir, file), 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as T)
}

function readQrels(): Map<string, Map<string, number>> {
  const qrels = new Map<string, Map<string, number>>()
  for (const line of readFileSync(join(dataDir, 'qrels.tsv'), 'utf8').split('\n').slice(1)) {
    const [query, doc, score] = line.split('\t')
    if (!query || !doc || !score) continue
    const judged = qrels.get(query) ?? new Map<string, number>()
    judged.set(doc, Number(score))
    qrels.set(query, judged)
  }
  return qrels
}

function ndcgAt10(ranked: string[], judged: Map<string, number>): number {
  const dcg = ranked.slice(0, 10).reduce((sum, doc, i) => sum + (judged.get(doc) ?? 0) / Math.log2(i + 2), 0)
  const ideal = [...judged.values()]
    .sort((a, b) => b - a)
    .slice(0, 10)
    .reduce((sum, gain, i) => sum + gain / Math.log2(i + 2), 0)
  return ideal === 0 ? 0 : dcg / ideal
}

function fts5Baseline(docs: CranDoc[], queries: Array<{ id: string; text: string }>): Map<string, string[]> {
  const db = new Database(':memory:')
  db.exec("CREATE VIRTUAL TABLE docs USING fts5(id UNINDEXED, title, text, tokenize = 'porter unicode61')")
  const insert = db.prepare('INSERT INTO docs (id, title, text) VALUES (?, ?, ?)')
  for (const doc of docs) insert.run(doc.id, doc.title, doc.text)
  const search = db.prepare('SELECT id FROM docs WHERE docs MATCH ? ORDER BY bm25(docs) LIMIT 10')
  const out = new Map<string, string[]>()
  for (const query of queries) {
    const terms = query.text.match(/[\p{L}\p{N}]+/gu) ?? []
    const match = terms.map((term) => `"${term}"`).join(' OR ')
    out.set(query.id, match ? (search.all(match) as Array<{ id: string }>).map((row) => row.id) : [])
  }
  db.close()
  return out
}

async function main() {
  if (!existsSync(dataDir)) {
    console.log(`The Cranfield collection is not at ${dataDir}; nothing to measure.`)
    return
  }
  const docs = readJsonl<CranDoc>('docs.jsonl')
  const queries = readJsonl<{ id: string; text: string }>('queries.jsonl')
  const qrels = readQrels()
  const mean = (runs: Map<string, string[]>) =>
    queries.reduce((sum, q) => sum + ndcgAt10(runs.get(q.id) ?? [], qrels.get(q.id) ?? new Map()), 0) /
    queries.length

  const baseline = mean(fts5Baseline(docs, queries))
  let platform: RunningPlatform | undefined
  try {
    platform = await startPlatform()
    const client = new Meilisearch({
      host: `${platform.url}/v1/search`,
      apiKey: await platform.token('bench-relevance', ['search:read', 'search:write']),
    })
    await client.createIndex('cranfield', { primaryKey: 'id' }).waitTask()
    const index = client.index('cranfield')
    await index.updateSettings({ searchableAttributes: ['title', 'text'], stopWords: STOP_WORDS }).waitTask()
    for (let i = 0; i < docs.length; i += 500) {
      const task = await index.addDocuments(docs.slice(i, i + 500)).waitTask()
      if (task.status !== 'succeeded') throw new Error(JSON.stringify(task.error))
    }
    const meiliRules = ['words', 'typo', 'proximity', 'attribute', 'sort', 'exactness']
    const configurations: Array<{
      name: string
      settings: Record<string, unknown>
      strategy: 'last' | 'any' | 'frequency'
    }> = [
      {
        name: 'Meilisearch default rules, matchingStrategy last',
        settings: { rankingRules: meiliRules },
        strategy: 'last',
      },
      {
        name: 'Meilisearch default rules, matchingStrategy frequency',
        settings: { rankingRules: meiliRules },
        strategy: 'frequency',
      },
      {
        name: 'bm25 (BM25F, typo-tolerant), matchingStrategy any',
        settings: { rankingRules: ['bm25'] },
        strategy: 'any',
      },
      {
        name: 'bm25 + English stemming',
        settings: { rankingRules: ['bm25'], stemming: 'english' },
        strategy: 'any',
      },
      ...(JSON.parse(process.env.RELEVANCE_EXTRA ?? '[]') as Array<{
        name: string
        settings: Record<string, unknown>
        strategy: 'any'
      }>),
    ]
    const rows: Array<Record<string, string | number>> = [
      {
        ranking: 'SQLite FTS5 bm25(), porter stemming (baseline)',
        'nDCG@10': baseline.toFixed(4),
        'vs baseline': '1.00×',
      },
    ]
    for (const configuration of configurations) {
      await index.updateSettings(configuration.settings).waitTask()
      const runs = new Map<string, string[]>()
      for (const query of queries) {
        const result = await index.search(query.text, {
          limit: 10,
          attributesToRetrieve: ['id'],
          matchingStrategy: configuration.strategy as 'last',
        })
        runs.set(
          query.id,
          result.hits.map((hit) => String(hit.id)),
        )
      }
      const score = mean(runs)
      rows.push({
        ranking: configuration.name,
        'nDCG@10': score.toFixed(4),
        'vs baseline': `${(score / baseline).toFixed(2)}×`,
      })
    }
    printTable('Cranfield nDCG@10 (225 queries, top 10, linear gains)', rows)
  } catch (error) {
    await new Promise((r) => setTimeout(r, 1000))
    console.error(platform?.output().slice(-3000))
    throw error
  } finally {
    await platform?.stop()
  }
}

await main()
