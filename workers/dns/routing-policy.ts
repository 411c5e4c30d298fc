/** The routing policy an RRset may carry: its kind, each record's attributes and the failover health check. */

export type PolicyKind = 'weighted' | 'geo' | 'failover' | 'nearest'

export interface RoutingPolicy {
  kind: PolicyKind
  /** Per record, by index: the policy's attributes. */
  attributes: RecordAttributes[]
  /** `failover`: the HTTP check the zone's alarm runs against each record's address. */
  healthCheck?: HealthCheck
}

export interface RecordAttributes {
  weight?: number
  countries?: string[]
  /** CIDR blocks, e.g. `192.0.2.0/24`, matched against EDNS Client Subnet. */
  subnets?: string[]
  role?: 'primary' | 'secondary'
  region?: string
  /** `failover`: the load balancer pool (of the zone's owner) whose health is this record's. */
  pool?: string
}

export interface HealthCheck {
  /** `http` or `https`. */
  scheme: 'http' | 'https'
  port: number
  path: string
  /** Seconds between checks. */
  intervalSeconds: number
  /** Status codes from 200 to this (inclusive) count as healthy. */
  expectStatusBelow: number
}
