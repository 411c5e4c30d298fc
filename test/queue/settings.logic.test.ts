import { describe, expect, it } from 'vitest'
import { AppError } from '../../workers/platform/errors'
import {
  configForCreate,
  configForUpdate,
  deliveryLimit,
  type QueueConfig,
  settingsView,
} from '../../workers/queue/settings'

const defaults = {
  fifo: false,
  contentBasedDeduplication: false,
  visibilityTimeoutSeconds: 30,
  retentionSeconds: 345_600,
  delaySeconds: 0,
  partitions: 1,
  deadLetter: null,
  push: null,
}
let secrets = 0
const newSecret = () => `whsec_secret${++secrets}`

function failure(run: () => unknown): AppError {
  try {
    run()
  } catch (error) {
    if (error instanceof AppError) return error
    throw error
  }
  throw new Error('expected an AppError')
}

describe('queue settings', () => {
  it('creates a config from defaults and gives a push endpoint a fresh secret', () => {
    const dlq = { name: 'dlq', config: defaults }
    const config = configForCreate(
      'jobs',
      {
        ...defaults,
        deadLetter: { queue: 'dlq', maxReceiveCount: 3 },
        push: { url: 'https://a.example/h', batchSize: 10, timeoutSeconds: 10, maxAttempts: 4 },
      },
      dlq,
      newSecret,
    )
    expect(config.push?.secret).toMatch(/^whsec_secret/)
    expect(deliveryLimit(config)).toBe(4)
    expect(deliveryLimit({ ...config, push: null })).toBe(3)
    expect(deliveryLimit({ ...config, deadLetter: null, push: null })).toBeUndefined()
    expect(settingsView(config).push).not.toHaveProperty('secret')
    expect(settingsView(config, true).push?.secret).toBe(config.push?.secret)
  })

  it('lists every broken rule with its field', () => {
    const error = failure(() =>
      configForCreate(
        'jobs',
        {
          ...defaults,
          fifo: true,
          partitions: 2,
          delaySeconds: 100,
          retentionSeconds: 60,
          deadLetter: { queue: 'standard', maxReceiveCount: 2 },
        },
        { name: 'standard', config: defaults },
        newSecret,
      ),
    )
    expect(error.code).toBe('validation_failed')
    expect(error.errors?.map((e) => e.path).sort()).toEqual([
      'body/deadLetter/queue',
      'body/delaySeconds',
      'body/partitions',
    ])
  })

  it('refuses a missing or self dead-letter queue, and push without one', () => {
    expect(
      failure(() =>
        configForCreate(
          'a',
          { ...defaults, deadLetter: { queue: 'b', maxReceiveCount: 1 } },
          undefined,
          newSecret,
        ),
      ).errors?.[0]?.message,
    ).toMatch(/No queue named "b"/)
    expect(
      failure(() =>
        configForCreate(
          'a',
          { ...defaults, deadLetter: { queue: 'a', maxReceiveCount: 1 } },
          { name: 'a', config: defaults },
          newSecret,
        ),
      ).errors?.[0]?.message,
    ).toMatch(/its own/)
    const push = { url: 'https://a.example/h', batchSize: 1, timeoutSeconds: 1, maxAttempts: 1 }
    expect(
      failure(() => configForCreate('a', { ...defaults, push }, undefined, newSecret)).errors?.[0]?.path,
    ).toBe('body/push')
  })

  it('updates partially: FIFO is for life, partitions only grow, the secret follows the URL', () => {
    const current: QueueConfig = {
      ...defaults,
      partitions: 2,
      deadLetter: { queue: 'dlq', maxReceiveCount: 5 },
      push: {
        url: 'https://a.example/h',
        batchSize: 10,
        timeoutSeconds: 10,
        maxAttempts: 5,
        secret: 'whsec_old',
      },
    }
    const dlq = { name: 'dlq', config: { ...defaults, partitions: 3 } }
    expect(failure(() => configForUpdate('q', current, { fifo: true }, dlq, newSecret)).code).toBe('conflict')
    expect(failure(() => configForUpdate('q', current, { partitions: 1 }, dlq, newSecret)).code).toBe(
      'conflict',
    )
    const grown = configForUpdate(
      'q',
      current,
      { partitions: 4, visibilityTimeoutSeconds: 60 },
      dlq,
      newSecret,
    )
    expect(grown).toMatchObject({ partitions: 4, visibilityTimeoutSeconds: 60, retentionSeconds: 345_600 })
    expect(grown.push?.secret).toBe('whsec_old')
    const samePush = { url: 'https://a.example/h', batchSize: 50, timeoutSeconds: 5, maxAttempts: 2 }
    expect(configForUpdate('q', current, { push: samePush }, dlq, newSecret).push?.secret).toBe('whsec_old')
    const moved = configForUpdate(
      'q',
      current,
      { push: { ...samePush, url: 'https://b.example/h' } },
      dlq,
      newSecret,
    )
    expect(moved.push?.secret).not.toBe('whsec_old')
    const removed = configForUpdate('q', current, { push: null, deadLetter: null }, undefined, newSecret)
    expect(removed).toMatchObject({ push: null, deadLetter: null })
    expect(
      failure(() => configForUpdate('q', current, { deadLetter: null }, undefined, newSecret)).code,
    ).toBe('validation_failed')
  })
})
