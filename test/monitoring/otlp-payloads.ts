/** One OTLP metrics export built by hand in both encodings (JSON and protobuf), for the OTLP tests. */
import { ProtoWriter } from '../../workers/platform/protobuf'

export const T0_NS = 1_700_000_000_000n * 1_000_000n

const RESOURCE: Array<[string, string]> = [
  ['service.name', 'checkout'],
  ['service.namespace', 'shop'],
  ['service.instance.id', 'i-1'],
  ['deployment.environment', 'prod'],
]

export interface PayloadOptions {
  timeNs?: bigint
  /** The delta sum `jobs.done`'s increment. */
  jobsDelta?: number
  requests?: number
}

export function otlpJson({ timeNs = T0_NS, jobsDelta = 3, requests = 42 }: PayloadOptions = {}) {
  const time = String(timeNs)
  return {
    resourceMetrics: [
      {
        resource: { attributes: RESOURCE.map(([key, value]) => ({ key, value: { stringValue: value } })) },
        scopeMetrics: [
          {
            scope: { name: 'test' },
            metrics: [
              {
                name: 'queue.depth',
                unit: '{message}',
                gauge: {
                  dataPoints: [
                    {
                      attributes: [{ key: 'queue', value: { stringValue: 'orders' } }],
                      timeUnixNano: time,
                      asInt: '7',
                    },
                  ],
                },
              },
              {
                name: 'http.requests',
                unit: '{request}',
                sum: {
                  aggregationTemporality: 2,
                  isMonotonic: true,
                  dataPoints: [{ timeUnixNano: time, asDouble: requests }],
                },
              },
              {
                name: 'jobs.done',
                sum: {
                  aggregationTemporality: 1,
                  isMonotonic: true,
                  dataPoints: [{ timeUnixNano: time, asInt: String(jobsDelta) }],
                },
              },
              {
                name: 'http.duration',
                unit: 's',
                histogram: {
                  aggregationTemporality: 2,
                  dataPoints: [
                    {
                      timeUnixNano: time,
                      count: '10',
                      sum: 2.5,
                      bucketCounts: ['3', '5', '2'],
                      explicitBounds: [0.1, 0.5],
                    },
                  ],
                },
              },
              {
                name: 'rpc.size',
                unit: 'By',
                exponentialHistogram: {
                  aggregationTemporality: 2,
                  dataPoints: [
                    {
                      timeUnixNano: time,
                      count: '6',
                      sum: 12,
                      scale: 0,
                      zeroCount: '1',
                      positive: { offset: 0, bucketCounts: ['2', '3'] },
                    },
                  ],
                },
              },
            ],
          },
        ],
      },
    ],
  }
}

const kv = (w: ProtoWriter, field: number, key: string, value: string) =>
  w.message(field, (pair) => pair.stringField(1, key).message(2, (v) => v.stringField(1, value)))
const packedFixed = (values: bigint[]) => {
  const w = new ProtoWriter()
  for (const v of values) w.fixed64(v)
  return w.finish()
}
const packedDouble = (values: number[]) => {
  const w = new ProtoWriter()
  for (const v of values) w.double(v)
  return w.finish()
}

export function otlpProtobuf({ timeNs = T0_NS, jobsDelta = 3, requests = 42 }: PayloadOptions = {}) {
  return new ProtoWriter()
    .message(1, (rm) => {
      rm.message(1, (resource) => {
        for (const [key, value] of RESOURCE) kv(resource, 1, key, value)
      })
      rm.message(2, (sm) => {
        sm.message(1, (scope) => scope.stringField(1, 'test'))
        sm.message(2, (m) =>
          m
            .stringField(1, 'queue.depth')
            .stringField(3, '{message}')
            .message(5, (g) =>
              g.message(1, (p) => {
                kv(p, 7, 'queue', 'orders')
                p.fixed64Field(3, timeNs).fixed64Field(6, 7n)
              }),
            ),
        )
        sm.message(2, (m) =>
          m
            .stringField(1, 'http.requests')
            .stringField(3, '{request}')
            .message(7, (s) =>
              s
                .message(1, (p) => p.fixed64Field(3, timeNs).doubleField(4, requests))
                .uintField(2, 2)
                .uintField(3, 1),
            ),
        )
        sm.message(2, (m) =>
          m.stringField(1, 'jobs.done').message(7, (s) =>
            s
              .message(1, (p) => p.fixed64Field(3, timeNs).fixed64Field(6, BigInt(jobsDelta)))
              .uintField(2, 1)
              .uintField(3, 1),
          ),
        )
        sm.message(2, (m) =>
          m
            .stringField(1, 'http.duration')
            .stringField(3, 's')
            .message(9, (h) =>
              h
                .message(1, (p) =>
                  p
                    .fixed64Field(3, timeNs)
                    .fixed64Field(4, 10n)
                    .doubleField(5, 2.5)
                    .bytesField(6, packedFixed([3n, 5n, 2n]))
                    .bytesField(7, packedDouble([0.1, 0.5])),
                )
                .uintField(2, 2),
            ),
        )
        sm.message(2, (m) =>
          m
            .stringField(1, 'rpc.size')
            .stringField(3, 'By')
            .message(10, (h) =>
              h
                .message(1, (p) =>
                  p
                    .fixed64Field(3, timeNs)
                    .fixed64Field(4, 6n)
                    .doubleField(5, 12)
                    .uintField(6, 0)
                    .fixed64Field(7, 1n)
                    .message(8, (b) => b.uintField(1, 0).bytesField(2, Uint8Array.of(2, 3))),
                )
                .uintField(2, 2),
            ),
        )
      })
    })
    .finish()
}
