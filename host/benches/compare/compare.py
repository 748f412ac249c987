#!/usr/bin/env python3
"""`just bench-compare`: floh's execute path beside its own HTTP ceiling and
a peer, from one run, printed as one table.

Rows: GET /api/health (floh's HTTP ceiling), execute of a trivial script, of
the JSON-shaping script (shaping.js), of one GET command of an OpenAPI
connector with 450 commands, and of a 5-line script making the same GET;
then the JSON-shaping handler in workerd (V8 isolates) as the peer. Each row
at 1 connection (p50 latency) and 64 connections (requests/s), measured by
wrk against the release binary. The ratios are the result: absolute numbers
vary between machines.

Usage: compare.py FLOH_BINARY WORKERD_BINARY [SECONDS]
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
TOKEN = "floh_bench_compare_token"
OAS_COMMANDS = 450


def call(base, method, path, body=None):
    request = urllib.request.Request(
        base + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"authorization": "Bearer " + TOKEN, "content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read() or b"null")


def start(command, ready, env=None, cwd=None):
    """Start `command`; wait until a line of its output matches `ready`."""
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=cwd
    )
    deadline = time.time() + 120
    for line in process.stdout:
        match = re.search(ready, line)
        if match:
            return process, match
        if time.time() > deadline:
            break
    process.kill()
    sys.exit(f"{command[0]} did not start")


def big_spec(base):
    """An OpenAPI document with OAS_COMMANDS operations, one of which is a
    GET of floh's own health endpoint (a fast loopback upstream)."""
    paths = {
        "/api/health": {"get": {"operationId": "health", "responses": {"200": {"description": "ok"}}}}
    }
    for n in range(OAS_COMMANDS - 1):
        paths[f"/things{n}/{{id}}"] = {
            "get": {
                "operationId": f"getThing{n}",
                "parameters": [
                    {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}},
                    {"name": "expand", "in": "query", "schema": {"type": "boolean"}},
                ],
                "responses": {
                    "200": {
                        "description": "ok",
                        "content": {"application/json": {"schema": {"type": "object", "properties": {
                            "id": {"type": "string"}, "name": {"type": "string"}}}}},
                    }
                },
            }
        }
    return {"openapi": "3.0.3", "info": {"title": "bench", "version": "1"},
            "servers": [{"url": base}], "paths": paths}


def wrk(url, connections, seconds, body=None, method="POST"):
    """p50 latency (µs) and requests/s of `url` under wrk (`method` with
    `body` when one is given, GET otherwise)."""
    script = None
    args = ["wrk", "--latency", f"-t{min(connections, 2)}", f"-c{connections}", f"-d{seconds}s",
            "-H", f"Authorization: Bearer {TOKEN}"]
    if body is not None:
        script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
        script.write('wrk.method = "%s"\nwrk.body = %s\nwrk.headers["Content-Type"] = "application/json"\n'
                     % (method, json.dumps(json.dumps(body))))
        script.close()
        args += ["-s", script.name]
    output = subprocess.run(args + [url], capture_output=True, text=True, check=True).stdout
    if script:
        os.unlink(script.name)
    if "Non-2xx" in output:
        sys.exit(f"wrk saw failures against {url}:\n{output}")
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)\b", output)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    scale = {"us": 1, "ms": 1000, "s": 1_000_000}[p50.group(2)]
    return float(p50.group(1)) * scale, float(rps.group(1))


def metrics(base):
    request = urllib.request.Request(base + "/metrics", headers={"authorization": "Bearer " + TOKEN})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read().decode()


def wait_for_snapshots(base, wanted, timeout=120):
    """Poll /metrics until `wanted` script snapshots are loaded."""
    deadline = time.time() + timeout
    loaded = 0
    while time.time() < deadline:
        text = metrics(base)
        found = re.search(r"^floh_script_snapshots_loaded (\d+)", text, re.M)
        loaded = int(found.group(1)) if found else 0
        if loaded >= wanted:
            break
        time.sleep(0.2)
    return loaded


def main():
    floh, workerd = sys.argv[1], sys.argv[2]
    seconds = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    work = tempfile.mkdtemp(prefix="floh-bench-compare-")
    env = dict(os.environ, FLOH_ADMIN_TOKEN=TOKEN, RUST_LOG="warn")
    server, match = start(
        [floh, "serve", "--listen", "127.0.0.1:0", "--data-dir", f"{work}/data",
         "--plugins-dir", f"{work}/plugins", "--open-egress",
         "--rate-limit-token", "0", "--rate-limit-execute", "0"],
        r"floh listening on (\S+)", env=env)
    base = match.group(1)
    peer = None
    try:
        with open(os.path.join(HERE, "shaping.js")) as file:
            shaping = file.read()
        call(base, "POST", "/api/connectors", {
            "name": "trivial", "executionModel": "script",
            "scriptSource": "function ping() { return { success: true }; }"})
        call(base, "POST", "/api/connectors", {
            "name": "shaping", "executionModel": "script", "scriptSource": shaping})
        call(base, "POST", "/api/connectors", {
            "name": "small-get", "executionModel": "script",
            "configSchema": {"connectionConfig": {"baseUrl": {"type": "string"}}},
            "config": {"baseUrl": base},
            "scriptSource": "function health() {\n  var r = floh.http.get(floh.config.baseUrl + '/api/health');\n"
                            "  return { success: r.status < 400, data: r.body };\n}\n"})
        draft = call(base, "POST", "/api/connectors/parse-oas", {"spec": big_spec(base)})
        definition = draft["definition"]
        definition["name"] = "big-oas"
        definition["config"] = dict(definition.get("config") or {}, baseUrl=base)
        created = call(base, "POST", "/api/connectors", definition)
        commands = len(created["configSchema"]["commands"])

        peer_dir = os.path.join(work, "workerd")
        os.makedirs(peer_dir)
        for name in ["worker.mjs", "workerd.capnp"]:
            shutil.copy(os.path.join(HERE, name), peer_dir)
        with open(os.path.join(peer_dir, "shaping-module.mjs"), "w") as file:
            file.write(shaping + "\nexport { report };\n")
        peer_port = 18000 + os.getpid() % 1000
        peer = subprocess.Popen([workerd, "serve", "workerd.capnp",
                                 "--socket-addr", f"http=127.0.0.1:{peer_port}"], cwd=peer_dir)
        peer_url = f"http://127.0.0.1:{peer_port}/"
        for _ in range(200):
            try:
                urllib.request.urlopen(peer_url, timeout=1).read()
                break
            except OSError:
                time.sleep(0.1)
        else:
            sys.exit("workerd did not start")

        rows = [
            ("GET /api/health (floh's HTTP ceiling)", f"{base}/api/health", None),
            ("execute: trivial script", f"{base}/api/connectors/trivial/execute", {"command": "ping"}),
            ("execute: JSON-shaping script", f"{base}/api/connectors/shaping/execute", {"command": "report"}),
            (f"execute: OpenAPI connector, {commands} commands, one GET",
             f"{base}/api/connectors/big-oas/execute", {"command": "health"}),
            ("execute: 5-line script, the same GET", f"{base}/api/connectors/small-get/execute",
             {"command": "health"}),
            ("workerd: the JSON-shaping handler (peer)", peer_url, None),
        ]
        # Each script's first execution asks for its snapshot; measure once
        # they are all ready (or the server says why not).
        for label, url, body in rows[1:5]:
            call(base, "POST", url[len(base):], body)
        loaded = wait_for_snapshots(base, 4)
        print(f"script snapshots ready before measuring: {loaded} of 4")
        results = []
        for label, url, body in rows:
            p50, _ = wrk(url, 1, seconds, body)
            _, rps = wrk(url, 64, seconds, body)
            results.append((label, p50, rps))
        health_p50, health_rps = results[0][1], results[0][2]
        print(f"\n{'workload (HTTP keep-alive, wrk)':<58} {'c=1 p50':>10} {'× health':>9} "
              f"{'c=64 req/s':>11} {'% health':>9}")
        for label, p50, rps in results:
            print(f"{label:<58} {p50:>8.0f}µs {p50 / health_p50:>8.2f}× {rps:>11.0f} "
                  f"{100 * rps / health_rps:>8.1f}%")
        shaping_row = results[2]
        peer_row = results[5]
        print(f"\nJSON-shaping, floh vs workerd: c=1 p50 {shaping_row[1] / peer_row[1]:.2f}× "
              f"(below 1 is faster), c=64 {shaping_row[2] / peer_row[2]:.2f}× the requests/s")
        print(f"OpenAPI connector ({commands} commands) over the 5-line script: "
              f"+{results[3][1] - results[4][1]:.0f} µs at c=1")
        runs = re.findall(r'^floh_script_runs_total\{start="(\w+)"\} (\d+)', metrics(base), re.M)
        print("script executions by start: " + ", ".join(f"{start} {count}" for start, count in runs))
    finally:
        server.kill()
        if peer:
            peer.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
