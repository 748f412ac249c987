#!/usr/bin/env python3
"""`just bench-nodes`: one node on PostgreSQL beside one on redb, one run,
one table.

Starts a throwaway PostgreSQL cluster (as the `postgres` user when run as
root: initdb refuses root) with its defaults (fsync and synchronous_commit
on), then the same release binary twice: on its redb file and with
`--database-url`. Rows: GET /api/health, execute of a trivial script (which
reads the connector from the cache and writes history in batches), and
issuing an API token (one write transaction each: what PostgreSQL's commit
costs against redb's), at 1 connection (p50) and 64 (requests/s), by wrk.

Usage: nodes.py FLOH_BINARY [SECONDS [AGENT_BENCH_COMMAND...]]

With an agent bench command (`just bench-nodes` passes `cargo bench -p
floh --bench agent`), it runs it against a second database of the same
cluster: agent commands sent by the node holding the agent and relayed
from another node.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import TOKEN, call, start, wrk  # noqa: E402


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def pg_bindir():
    try:
        bindir = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True,
                                check=True).stdout.strip()
        if os.path.exists(os.path.join(bindir, "initdb")):
            return bindir
    except (OSError, subprocess.CalledProcessError):
        pass
    versions = sorted(os.listdir("/usr/lib/postgresql")) if os.path.isdir("/usr/lib/postgresql") else []
    if not versions:
        sys.exit("PostgreSQL is missing: just postgres-deps")
    return f"/usr/lib/postgresql/{versions[-1]}/bin"


def as_cluster_owner(command):
    return ["runuser", "-u", "postgres", "--"] + command if os.geteuid() == 0 else command


def start_postgres(work):
    """A cluster in `work/pg` on a free loopback port; its URL and stopper."""
    bindir, data, port = pg_bindir(), os.path.join(work, "pg"), free_port()
    os.makedirs(data, mode=0o700)
    if os.geteuid() == 0:
        shutil.chown(work, "postgres")
        shutil.chown(data, "postgres")
    run = lambda command: subprocess.run(as_cluster_owner(command), check=True, cwd="/",
                                         stdout=subprocess.DEVNULL)
    run([f"{bindir}/initdb", "-D", data, "-U", "postgres", "--auth=trust", "--no-sync"])
    run([f"{bindir}/pg_ctl", "-D", data, "-w", "-l", os.path.join(work, "pg.log"), "-o",
         f"-p {port} -k {work} -c listen_addresses=127.0.0.1 -c max_connections=200", "start"])
    stop = lambda: run([f"{bindir}/pg_ctl", "-D", data, "-m", "fast", "stop"])
    return f"postgres://postgres@127.0.0.1:{port}/postgres", stop


def serve(floh, work, name, extra):
    env = dict(os.environ, FLOH_ADMIN_TOKEN=TOKEN, RUST_LOG="warn",
               FLOH_SECRET_KEY="1:bm9kZXMtc2hhcmUtb25lLWtleS1mb3ItaXNzdWUtMTY=")
    process, match = start(
        [floh, "serve", "--listen", "127.0.0.1:0", "--data-dir", f"{work}/{name}",
         "--plugins-dir", f"{work}/{name}-plugins",
         "--rate-limit-token", "0", "--rate-limit-execute", "0"] + extra,
        r"floh listening on (\S+)", env=env)
    return process, match.group(1)


def measure(base, seconds):
    call(base, "POST", "/api/connectors", {
        "name": "trivial", "executionModel": "script",
        "scriptSource": "function ping() { return { success: true }; }"})
    call(base, "POST", "/api/connectors/trivial/execute", {"command": "ping"})
    rows = [
        ("GET /api/health", "GET", f"{base}/api/health", None),
        ("execute: trivial script", "POST", f"{base}/api/connectors/trivial/execute",
         {"command": "ping"}),
        ("issue an API token (one write)", "POST", f"{base}/api/tokens",
         {"name": "bench", "role": "executor"}),
    ]
    results = []
    for label, method, url, body in rows:
        p50, _ = wrk(url, 1, seconds, body, method)
        _, rps = wrk(url, 64, seconds, body, method)
        results.append((label, p50, rps))
    return results


def main():
    floh = sys.argv[1]
    seconds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    work = tempfile.mkdtemp(prefix="floh-bench-nodes-")
    os.chmod(work, 0o755)
    url, stop_postgres = start_postgres(work)
    servers = []
    try:
        tables = {}
        for store, extra in [("redb", []), ("PostgreSQL", ["--database-url", url])]:
            server, base = serve(floh, work, store.lower(), extra)
            servers.append(server)
            tables[store] = measure(base, seconds)
            server.terminate()
            server.wait()
        print(f"\n{'workload':<34} {'redb c=1 p50':>13} {'PG c=1 p50':>11} "
              f"{'redb c=64 req/s':>16} {'PG c=64 req/s':>14} {'PG/redb req/s':>14}")
        for (label, r_p50, r_rps), (_, p_p50, p_rps) in zip(tables["redb"], tables["PostgreSQL"]):
            print(f"{label:<34} {r_p50:>10.0f} µs {p_p50:>8.0f} µs {r_rps:>16,.0f} {p_rps:>14,.0f} "
                  f"{p_rps / r_rps:>13.2f}×")
        if len(sys.argv) > 3:
            # The agent bench with two nodes on this cluster: what a relayed
            # agent command adds to one sent by the node holding the agent.
            relay_url = url.rsplit("/", 1)[0] + "/relay"
            subprocess.run(as_cluster_owner([f"{pg_bindir()}/createdb", "-h", work, "-p",
                                             url.split(":")[-1].split("/")[0], "-U", "postgres", "relay"]),
                           check=True, cwd="/")
            print("\nagent commands, one node holding the agent and one relaying (cargo bench --bench agent):")
            subprocess.run(sys.argv[3:], check=True, env=dict(os.environ, FLOH_BENCH_DATABASE_URL=relay_url))
    finally:
        for server in servers:
            server.kill()
        stop_postgres()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
