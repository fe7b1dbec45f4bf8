// aedes-persistence-redis ships no types. What the gateway uses of it: the factory, given an ioredis
// connection, returns an aedes persistence (promise API when called without callbacks; its
// callback `destroy(cb)` waits for a `ready` event that only aedes 1 emits, so only the promise
// form is used).
declare module 'aedes-persistence-redis' {
  import type { Redis } from 'ioredis';
  export interface RedisPersistence {
    destroy(): Promise<void>;
  }
  export default function redisPersistence(options: { conn: Redis; maxSessionDelivery?: number }): RedisPersistence;
}
