import { describe, expect, it } from 'vitest'
import { type CronExpression, parseCron } from '../../workers/scheduler/cron'
import { randomInt, seededRandom } from '../support/seeded'
import { oracleRuns, ourRuns, randomExpression, referenceRuns, transitions } from './cron-reference'

/**
 * The documented DST policy: a wall time skipped when clocks go forward runs at the first
 * instant after the gap (several skipped times run once, there); a wall time repeated when
 * clocks go back runs once, at its first occurrence. cron-parser, the reference elsewhere,
 * runs skipped times shifted by the gap and some repeated times twice: asserted here.
 */
const HOUR = 3_600_000
const at = (iso: string) => Date.parse(iso)
const iso = (ms: number) => new Date(ms).toISOString()

function cron(expression: string): CronExpression {
  const parsed = parseCron(expression)
  if (!parsed.ok) throw new Error(parsed.error)
  return parsed.cron
}

function ours(expression: string, zone: string, from: string, to: string): string[] {
  return ourRuns(cron(expression), zone, at(from), 1000, at(to)).map(iso)
}

function reference(expression: string, zone: string, from: string, to: string): string[] {
  return referenceRuns(expression, zone, at(from), 1000, at(to)).map(iso)
}

describe('spring forward (a skipped hour)', () => {
  it('runs a skipped time once at the end of the gap; cron-parser runs it shifted by the gap', () => {
    // New York, 2024-03-10: 02:00 EST jumps to 03:00 EDT (07:00Z).
    const window = ['2024-03-10T04:00:00Z', '2024-03-11T04:00:00Z'] as const
    expect(ours('30 2 * * *', 'America/New_York', ...window)).toEqual(['2024-03-10T07:00:00.000Z'])
    expect(reference('30 2 * * *', 'America/New_York', ...window)).toEqual(['2024-03-10T07:30:00.000Z'])
  })

  it('collapses every skipped time of one gap into one run', () => {
    const window = ['2024-03-10T04:00:00Z', '2024-03-10T09:00:00Z'] as const
    expect(ours('*/15 2 * * *', 'America/New_York', ...window)).toEqual(['2024-03-10T07:00:00.000Z'])
    expect(reference('*/15 2 * * *', 'America/New_York', ...window)).toEqual([
      '2024-03-10T07:00:00.000Z',
      '2024-03-10T07:15:00.000Z',
      '2024-03-10T07:30:00.000Z',
      '2024-03-10T07:45:00.000Z',
    ])
    // An hourly job: the skipped 02:30 runs at 03:00, then 03:30 as usual.
    expect(ours('30 * * * *', 'America/New_York', '2024-03-10T05:00:00Z', '2024-03-10T08:00:00Z')).toEqual([
      '2024-03-10T05:30:00.000Z',
      '2024-03-10T06:30:00.000Z',
      '2024-03-10T07:00:00.000Z',
      '2024-03-10T07:30:00.000Z',
    ])
  })

  it('handles a 30-minute gap, a gap at midnight and a skipped day', () => {
    // Lord Howe, 2024-10-06: 02:00 (+10:30) jumps to 02:30 (+11), at 15:30Z the day before.
    expect(ours('15 2 * * *', 'Australia/Lord_Howe', '2024-10-05T12:00:00Z', '2024-10-06T12:00:00Z')).toEqual(
      ['2024-10-05T15:30:00.000Z'],
    )
    // Santiago, 2024-09-08: midnight (-04) jumps to 01:00 (-03).
    expect(ours('0 0 * * *', 'America/Santiago', '2024-09-07T12:00:00Z', '2024-09-09T12:00:00Z')).toEqual([
      '2024-09-08T04:00:00.000Z',
      '2024-09-09T03:00:00.000Z',
    ])
    // Apia skipped 2011-12-30 entirely (-10 to +14): noon that day runs when the day ends.
    expect(ours('0 12 * * *', 'Pacific/Apia', '2011-12-29T12:00:00Z', '2011-12-31T12:00:00Z')).toEqual([
      '2011-12-29T22:00:00.000Z',
      '2011-12-30T10:00:00.000Z',
      '2011-12-30T22:00:00.000Z',
    ])
  })
})

describe('fall back (a repeated hour)', () => {
  it('runs a repeated time once, at its first occurrence', () => {
    // New York, 2024-11-03: 02:00 EDT goes back to 01:00 EST; 01:30 happens at 05:30Z and 06:30Z.
    const window = ['2024-11-03T00:00:00Z', '2024-11-04T00:00:00Z'] as const
    expect(ours('30 1 * * *', 'America/New_York', ...window)).toEqual(['2024-11-03T05:30:00.000Z'])
    expect(reference('30 1 * * *', 'America/New_York', ...window)).toEqual(['2024-11-03T05:30:00.000Z'])
  })

  it('does not repeat a frequent job in the repeated hour; cron-parser does', () => {
    const window = ['2024-11-03T04:30:00Z', '2024-11-03T07:30:00Z'] as const
    expect(ours('*/20 * * * *', 'America/New_York', ...window)).toEqual([
      '2024-11-03T04:40:00.000Z',
      '2024-11-03T05:00:00.000Z',
      '2024-11-03T05:20:00.000Z',
      '2024-11-03T05:40:00.000Z',
      '2024-11-03T07:00:00.000Z',
      '2024-11-03T07:20:00.000Z',
    ])
    expect(reference('*/20 * * * *', 'America/New_York', ...window)).toEqual([
      '2024-11-03T04:40:00.000Z',
      '2024-11-03T05:00:00.000Z',
      '2024-11-03T05:20:00.000Z',
      '2024-11-03T05:40:00.000Z',
      '2024-11-03T06:00:00.000Z',
      '2024-11-03T06:20:00.000Z',
      '2024-11-03T06:40:00.000Z',
      '2024-11-03T07:00:00.000Z',
      '2024-11-03T07:20:00.000Z',
    ])
  })

  it('handles a 30-minute overlap', () => {
    // Lord Howe, 2024-04-07: 02:00 (+11) goes back to 01:30 (+10:30); 01:45 first happens at 14:45Z.
    expect(ours('45 1 * * *', 'Australia/Lord_Howe', '2024-04-06T12:00:00Z', '2024-04-07T12:00:00Z')).toEqual(
      ['2024-04-06T14:45:00.000Z'],
    )
  })
})

describe('a ticking-clock oracle of the policy', () => {
  const ZONES = [
    'America/New_York',
    'America/Havana',
    'America/Santiago',
    'Australia/Lord_Howe',
    'Pacific/Chatham',
    'America/St_Johns',
    'Europe/Berlin',
    'Pacific/Apia',
  ]
  it.each(ZONES)('agrees with every run around the transitions of 2011, 2018 and 2025 in %s', (zone) => {
    const random = seededRandom(zone.length * 104_729)
    let checked = 0
    for (const year of [2011, 2018, 2025]) {
      for (const transition of transitions(zone, Date.UTC(year, 0, 1), Date.UTC(year + 1, 0, 1))) {
        for (let i = 0; i < 4; i++) {
          const expression = randomExpression(random).split(' ').slice(-5).join(' ')
          const parsed = parseCron(expression)
          if (!parsed.ok) continue
          const start = Math.floor(transition.at / 60_000) * 60_000 - randomInt(random, 20, 30) * HOUR
          const end = start + 48 * HOUR
          const expected = oracleRuns(parsed.cron, zone, start, end, 60_000)
          const actual = ourRuns(parsed.cron, zone, start, expected.length + 1, end)
          expect(actual.map(iso), `${expression} in ${zone} from ${iso(start)}`).toEqual(expected.map(iso))
          checked++
        }
      }
    }
    expect(checked).toBeGreaterThan(0)
  })

  it('agrees to the second with a seconds field', () => {
    const random = seededRandom(86_400)
    for (const zone of ['America/New_York', 'Australia/Lord_Howe', 'Pacific/Chatham']) {
      for (const transition of transitions(zone, Date.UTC(2024, 0, 1), Date.UTC(2025, 0, 1))) {
        const expression = `${randomInt(random, 0, 59)}/${randomInt(random, 5, 30)} ${randomInt(random, 0, 14)}/${randomInt(random, 3, 20)} * * * *`
        const start = Math.floor(transition.at / 1000) * 1000 - 90 * 60_000
        const end = start + 3 * HOUR
        const expected = oracleRuns(cron(expression), zone, start, end, 1000)
        const actual = ourRuns(cron(expression), zone, start, expected.length + 1, end)
        expect(actual.map(iso), `${expression} in ${zone}`).toEqual(expected.map(iso))
      }
    }
  })
})
