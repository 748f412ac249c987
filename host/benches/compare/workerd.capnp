# workerd configuration of the bench-compare peer; the address comes from
# `--socket-addr http=127.0.0.1:PORT`.
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [(name = "main", worker = .shaping)],
  sockets = [(name = "http", address = "127.0.0.1:0", http = (), service = "main")],
);

const shaping :Workerd.Worker = (
  modules = [
    (name = "worker", esModule = embed "worker.mjs"),
    (name = "shaping-module.mjs", esModule = embed "shaping-module.mjs"),
  ],
  compatibilityDate = "2025-01-01",
);
