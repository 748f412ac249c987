#!/usr/bin/env python3
"""`just bench-memory`: what script snapshots cost in memory.

Starts the release binary, measures its resident memory with no connectors,
then creates COUNT script connectors (each a distinct ~40-line script with a
helper and a constant built at top level), executes each once so that its
snapshot is built, waits until all are loaded, executes each once more from
its snapshot, and measures again. Prints RSS and PSS (from
/proc/PID/smaps_rollup) before and after, the difference per loaded
snapshot, and the disk each snapshot takes in `cache/scripts/`.

Usage: memory.py FLOH_BINARY [COUNT]
"""

import os
import re
import shutil
import sys
import tempfile
import time

from compare import TOKEN, call, metrics, start, wait_for_snapshots


def script(n):
    """A small but real script: a constant and a helper at top level."""
    return f"""
var TABLE_{n} = (function () {{
  var rows = [];
  for (var i = 0; i < 20; i++) rows.push({{ id: 'row-{n}-' + i, weight: i * {n % 7 + 1} }});
  return rows;
}})();

function pick(rows, minimum) {{
  return rows.filter(function (row) {{ return row.weight >= minimum; }});
}}

function heaviest() {{
  var rows = pick(TABLE_{n}, floh.params.minimum || 0);
  return {{ success: true, data: {{ count: rows.length, last: rows[rows.length - 1] }} }};
}}
"""


def memory(pid):
    """(RSS, PSS, anonymous RSS, file-backed RSS) in KiB. File-backed pages
    are the mapped snapshot files: clean page cache the kernel can drop and
    read again."""
    with open(f"/proc/{pid}/smaps_rollup") as file:
        text = file.read()
    with open(f"/proc/{pid}/status") as file:
        status = file.read()
    field = lambda name, source: int(re.search(rf"^{name}:\s+(\d+)", source, re.M).group(1))
    return (field("Rss", text), field("Pss", text), field("RssAnon", status),
            field("RssFile", status) + field("RssShmem", status))


def settle(pid):
    """Memory once the server is idle (two equal readings a second apart)."""
    previous = None
    for _ in range(30):
        now = memory(pid)
        if previous and abs(now[0] - previous[0]) < 256:
            return now
        previous = now
        time.sleep(1)
    return previous


def main():
    floh = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    work = tempfile.mkdtemp(prefix="floh-bench-memory-")
    env = dict(os.environ, FLOH_ADMIN_TOKEN=TOKEN, RUST_LOG="warn")
    server, match = start(
        [floh, "serve", "--listen", "127.0.0.1:0", "--data-dir", f"{work}/data",
         "--plugins-dir", f"{work}/plugins", "--rate-limit-token", "0", "--rate-limit-execute", "0",
         "--script-snapshots-loaded", str(count + 1),
         # Room for every snapshot on disk (about 4.5 MiB each).
         "--script-snapshots-disk-mib", str(max(4096, 6 * (count + 1)))],
        r"floh listening on (\S+)", env=env)
    base = match.group(1)
    try:
        # One execution first, so that the engine and its pool are warm in
        # the baseline: what follows is what the connectors add.
        call(base, "POST", "/api/connectors", {
            "name": "warm-up", "executionModel": "script",
            "scriptSource": "function ping() { return { success: true }; }"})
        call(base, "POST", "/api/connectors/warm-up/execute", {"command": "ping"})
        wait_for_snapshots(base, 1)
        before = settle(server.pid)
        started = time.time()
        for n in range(count):
            call(base, "POST", "/api/connectors", {
                "name": f"script-{n}", "executionModel": "script", "scriptSource": script(n)})
            call(base, "POST", f"/api/connectors/script-{n}/execute", {"command": "heaviest"})
        # One builder thread: about a second per snapshot on a quiet machine.
        loaded = wait_for_snapshots(base, count + 1, timeout=max(600, 4 * count)) - 1
        built_in = time.time() - started
        for n in range(count):
            result = call(base, "POST", f"/api/connectors/script-{n}/execute",
                          {"command": "heaviest", "params": {"minimum": 3}})
            assert result["success"], result
        after = settle(server.pid)
        runs = dict(re.findall(r'^floh_script_runs_total\{start="(\w+)"\} (\d+)', metrics(base), re.M))
        scripts = os.path.join(work, "data", "cache", "scripts")
        disk = sum(os.path.getsize(os.path.join(scripts, f)) for f in os.listdir(scripts)) \
            if os.path.isdir(scripts) else 0
        per = lambda kib: (kib / max(loaded, 1))
        print(f"connectors: {count}; snapshots loaded: {loaded} of {count} "
              f"(built in {built_in:.0f} s); executions by start: {runs}")
        print(f"{'':<34}{'RSS':>12}{'PSS':>12}{'anonymous':>12}{'file, shmem':>12}")
        mib = lambda values: "".join(f"{v / 1024:>9.1f}MiB" for v in values)
        print(f"{'before (one warm connector)':<34}{mib(before)}")
        print(f"{f'after {count} connectors, each run':<34}{mib(after)}")
        print(f"{'per loaded snapshot':<34}"
              + "".join(f"{per(a - b):>9.0f}KiB" for a, b in zip(after, before)))
        print(f"disk in cache/scripts/: {disk / 2**20:.0f} MiB, {disk / max(loaded, 1) / 2**20:.2f} MiB per snapshot")
    finally:
        server.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
