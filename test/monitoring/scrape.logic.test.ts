/** One scrape's series: target labels, exported_ on collisions, the sample limit, the next due time. */
import { describe, expect, it } from 'vitest'
import {
  healthSeries,
  instanceOf,
  nextDue,
  scrapedSeries,
  targetLabels,
} from '../../workers/monitoring/scrape/scrape'

describe('scrape', () => {
  it('names instances host:port with the default port made explicit', () => {
    expect(instanceOf('http://a.test/metrics')).toBe('a.test:80')
    expect(instanceOf('https://a.test/metrics')).toBe('a.test:443')
    expect(instanceOf('http://127.0.0.1:9100/metrics')).toBe('127.0.0.1:9100')
    expect(instanceOf('http://[::1]:9090/metrics')).toBe('[::1]:9090')
  })

  it('labels series with the target and keeps colliding labels as exported_<name>', () => {
    const target = targetLabels('node', 'http://a.test:9100/metrics', { env: 'prod' })
    const series = scrapedSeries('x{instance="inner",env="dev",k="v"} 1\ny 2 1000\n', target, 5000, 10)
    expect(series).toEqual([
      {
        labels: {
          __name__: 'x',
          exported_instance: 'inner',
          exported_env: 'dev',
          k: 'v',
          env: 'prod',
          job: 'node',
          instance: 'a.test:9100',
        },
        times: [5000],
        values: [1],
      },
      {
        labels: { __name__: 'y', env: 'prod', job: 'node', instance: 'a.test:9100' },
        times: [1000],
        values: [2],
      },
    ])
  })

  it('fails a scrape over the sample limit or with a malformed body', () => {
    const target = targetLabels('j', 'http://a.test/', {})
    expect(() => scrapedSeries('a 1\nb 2\nc 3\n', target, 0, 2)).toThrow(/sample limit exceeded: 3 > 2/)
    expect(() => scrapedSeries('a{ 1\n', target, 0, 2)).toThrow(/line 1/)
  })

  it('adds up, scrape_duration_seconds and scrape_samples_scraped', () => {
    const target = { job: 'j', instance: 'a:80' }
    expect(healthSeries(target, 7, { up: false, durationSeconds: 0.25, samples: 0 })).toEqual([
      { labels: { job: 'j', instance: 'a:80', __name__: 'up' }, times: [7], values: [0] },
      {
        labels: { job: 'j', instance: 'a:80', __name__: 'scrape_duration_seconds' },
        times: [7],
        values: [0.25],
      },
      { labels: { job: 'j', instance: 'a:80', __name__: 'scrape_samples_scraped' }, times: [7], values: [0] },
    ])
  })

  it('schedules the next scrape one interval on, never in the past', () => {
    expect(nextDue(1000, 500, 1200)).toBe(1500)
    expect(nextDue(1000, 500, 9000)).toBe(9500)
  })
})
