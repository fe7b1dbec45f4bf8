// aedes-persistence-level ships no types. What the gateway uses of it: the factory, given an open
// level database, returns an aedes persistence (promise API when called without callbacks).
declare module 'aedes-persistence-level' {
  export default function levelPersistence(db: object): object;
}
