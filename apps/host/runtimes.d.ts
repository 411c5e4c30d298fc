/** The few Bun and Deno APIs the host's entry points use (their full typings are not installed). */
declare module 'bun:sqlite' {
  export interface Statement {
    readonly columnNames: string[]
    all(...params: unknown[]): unknown[]
    run(...params: unknown[]): { changes: number | bigint }
  }
  export class Database {
    constructor(path: string, options?: { create?: boolean; strict?: boolean })
    exec(sql: string): void
    prepare(sql: string): Statement
    close(): void
  }
}
