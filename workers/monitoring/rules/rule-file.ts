/**
 * Prometheus rule files: YAML `groups:` of recording rules (`record`, `expr`, `labels`) and
 * alerting rules (`alert`, `expr`, `for`, `keep_firing_for`, `labels`, `annotations`), each
 * group with a `name`, an optional `interval` and `limit`.
 *
 * Guarantees: `parseRuleFile` either returns every group fully checked (YAML, unknown
 * fields, PromQL, durations, metric and label names, templates, duplicate group names) or
 * throws `RuleFileError` listing each problem with its path, so an upload changes nothing
 * unless the whole file is valid. Cost: one YAML parse and one PromQL parse per rule.
 */
import { parse as parseYaml } from 'yaml'
import { RULES_LIMITS } from '../../../schemas/monitoring-rules'
import type { Expr } from '../promql/ast'
import { parseDuration, parsePromQL } from '../promql/parser'
import type { Labels } from '../series'
import { compileTemplate } from './template'

export interface RecordingRule {
  kind: 'recording'
  record: string
  expr: string
  labels: Labels
}

export interface AlertingRule {
  kind: 'alerting'
  alert: string
  expr: string
  forMs: number
  keepFiringForMs: number
  labels: Labels
  annotations: Labels
}

export type Rule = RecordingRule | AlertingRule

export interface RuleGroup {
  name: string
  intervalMs: number
  /** Most alerts or series one rule may produce per evaluation (0: no limit). */
  limit: number
  rules: Rule[]
}

export class RuleFileError extends Error {
  constructor(readonly problems: Array<{ path: string; message: string }>) {
    super(problems.map((p) => `${p.path}: ${p.message}`).join('; '))
  }
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/
const GROUP_FIELDS = new Set(['name', 'interval', 'limit', 'rules'])
const RULE_FIELDS = new Set(['record', 'alert', 'expr', 'for', 'keep_firing_for', 'labels', 'annotations'])

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v)

/** Parses a rule expression once (the evaluator keeps the tree). */
export function ruleExpr(rule: Rule): Expr {
  return parsePromQL(rule.expr)
}

export function parseRuleFile(text: string): RuleGroup[] {
  const problems: Array<{ path: string; message: string }> = []
  const fail = (path: string, message: string) => {
    problems.push({ path, message })
  }
  let doc: unknown
  try {
    doc = parseYaml(text, { maxAliasCount: 100 })
  } catch (error) {
    throw new RuleFileError([{ path: '', message: `invalid YAML: ${(error as Error).message}` }])
  }
  if (!isObject(doc) || !Array.isArray(doc.groups))
    throw new RuleFileError([{ path: '', message: 'a rule file is a mapping with a "groups" list' }])
  for (const key of Object.keys(doc)) if (key !== 'groups') fail(key, `field ${key} not found in rule file`)
  if (doc.groups.length > RULES_LIMITS.maxGroupsPerFile)
    fail('groups', `at most ${RULES_LIMITS.maxGroupsPerFile} groups`)

  const duration = (value: unknown, path: string): number => {
    if (value === undefined) return 0
    try {
      if (typeof value !== 'string') throw new Error('not a string')
      return parseDuration(value)
    } catch {
      fail(path, `invalid duration ${JSON.stringify(value)}`)
      return 0
    }
  }
  const stringMap = (value: unknown, path: string, templates: boolean): Labels => {
    if (value === undefined || value === null) return {}
    if (!isObject(value)) {
      fail(path, 'a mapping of names to strings')
      return {}
    }
    const out: Labels = {}
    for (const [k, v] of Object.entries(value)) {
      if (!LABEL_NAME.test(k)) fail(`${path}/${k}`, `invalid name ${JSON.stringify(k)}`)
      const text =
        typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : null
      if (text === null) fail(`${path}/${k}`, 'a string')
      else {
        if (templates) {
          try {
            compileTemplate(text)
          } catch (error) {
            fail(`${path}/${k}`, `template: ${(error as Error).message}`)
          }
        }
        out[k] = text
      }
    }
    return out
  }

  const names = new Set<string>()
  const groups: RuleGroup[] = []
  for (const [gi, g] of (doc.groups as unknown[]).entries()) {
    const path = `groups/${gi}`
    if (!isObject(g)) {
      fail(path, 'a group is a mapping')
      continue
    }
    for (const key of Object.keys(g))
      if (!GROUP_FIELDS.has(key)) fail(`${path}/${key}`, `field ${key} not found`)
    const name = typeof g.name === 'string' ? g.name : ''
    if (name === '' || name.length > 256) fail(`${path}/name`, 'a group name of 1–256 characters')
    else if (names.has(name)) fail(`${path}/name`, `group name ${JSON.stringify(name)} is repeated`)
    names.add(name)
    const problemsBefore = problems.length
    const intervalMs =
      g.interval === undefined ? RULES_LIMITS.defaultIntervalMs : duration(g.interval, `${path}/interval`)
    if (
      problems.length === problemsBefore &&
      (intervalMs < RULES_LIMITS.minIntervalMs || intervalMs > RULES_LIMITS.maxIntervalMs)
    )
      fail(`${path}/interval`, 'between 1s and 24h')
    const limit = g.limit ?? 0
    if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 0)
      fail(`${path}/limit`, 'a whole number ≥ 0')
    if (!Array.isArray(g.rules)) {
      fail(`${path}/rules`, 'a list of rules')
      continue
    }
    if (g.rules.length > RULES_LIMITS.maxRulesPerGroup)
      fail(`${path}/rules`, `at most ${RULES_LIMITS.maxRulesPerGroup} rules`)
    const rules: Rule[] = []
    for (const [ri, r] of (g.rules as unknown[]).entries()) {
      const rp = `${path}/rules/${ri}`
      if (!isObject(r)) {
        fail(rp, 'a rule is a mapping')
        continue
      }
      for (const key of Object.keys(r))
        if (!RULE_FIELDS.has(key)) fail(`${rp}/${key}`, `field ${key} not found`)
      const expr = typeof r.expr === 'string' ? r.expr : ''
      if (expr.trim() === '') fail(`${rp}/expr`, 'field expr must be set')
      else {
        try {
          parsePromQL(expr)
        } catch (error) {
          fail(`${rp}/expr`, `could not parse expression: ${(error as Error).message}`)
        }
      }
      if (typeof r.record === 'string' && r.alert === undefined) {
        if (!METRIC_NAME.test(r.record)) fail(`${rp}/record`, `invalid recording rule name: ${r.record}`)
        for (const key of ['for', 'keep_firing_for', 'annotations'])
          if (r[key] !== undefined) fail(`${rp}/${key}`, `invalid field '${key}' in recording rule`)
        rules.push({
          kind: 'recording',
          record: r.record,
          expr,
          labels: stringMap(r.labels, `${rp}/labels`, false),
        })
      } else if (typeof r.alert === 'string' && r.record === undefined) {
        if (r.alert === '') fail(`${rp}/alert`, 'invalid alert name')
        rules.push({
          kind: 'alerting',
          alert: r.alert,
          expr,
          forMs: duration(r.for, `${rp}/for`),
          keepFiringForMs: duration(r.keep_firing_for, `${rp}/keep_firing_for`),
          labels: stringMap(r.labels, `${rp}/labels`, true),
          annotations: stringMap(r.annotations, `${rp}/annotations`, true),
        })
      } else fail(rp, 'one of "record" or "alert" must be set')
    }
    groups.push({ name, intervalMs, limit: typeof limit === 'number' ? limit : 0, rules })
  }
  if (problems.length > 0) throw new RuleFileError(problems)
  return groups
}
