/**
 * Preload (`node --import ./bench/nodelay-preload.js ...`) that sets TCP_NODELAY on every
 * socket. pgtyped 2.4 writes each protocol message with its own socket.write and never sets
 * TCP_NODELAY, so on Linux loopback most of its run is Nagle + delayed-ACK stalls (~40 ms
 * per round trip). The benchmark reports pgtyped as shipped and, for a fair lower bound,
 * pgtyped with this preload; pgtyped's code is not changed.
 */
import net from "node:net";

const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (...args) {
  this.once("connect", () => this.setNoDelay(true));
  return connect.apply(this, args);
};
