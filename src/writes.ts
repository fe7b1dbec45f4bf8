// Socket writes of one event-loop turn sent in one syscall. Acknowledgements and deliveries settle
// in separate callbacks of a turn; written one by one they cost a syscall each (the largest item of
// the uplink profiles), held until the turn ends they leave together.
import type { Socket } from 'node:net';

const held = new WeakSet<Socket>();

/** Corks `socket` until the end of this event-loop turn (once per turn, however often called).
 *  `cork` is the socket's own, for a socket whose cork() calls this. */
export function holdUntilTurnEnds(socket: Socket, cork: () => void = () => socket.cork()): void {
  if (held.has(socket)) return;
  held.add(socket);
  cork();
  setImmediate(() => {
    held.delete(socket);
    socket.uncork();
  });
}

/** For sockets written by code that corks each packet only until the next tick (aedes, through
 *  mqtt-packet): every cork also holds the socket until the turn ends. `end()` uncorks fully, so
 *  nothing waits past it. */
export function batchWrites(socket: Socket): Socket {
  const cork = socket.cork.bind(socket);
  socket.cork = (): void => {
    holdUntilTurnEnds(socket, cork);
    cork();
  };
  return socket;
}
