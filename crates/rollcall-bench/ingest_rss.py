#!/usr/bin/env python3
"""Peak resident memory of `rollcall serve` while 4 clients POST maximum-size ingest bodies
at once (SPEC §10: peak <= 300 MB; issue 11 point 4). Standard library only.

    python3 crates/rollcall-bench/ingest_rss.py target/release/rollcall [--clients 4]

For each scenario it starts a fresh server (its own temporary data directory, rate limits
lifted, the request journal on as by default), creates one meeting per client through the
admin API, sends the bodies from concurrent threads (each a blocking HTTP/1.1 POST of a
64 MiB body built beforehand), and reads the server's peak RSS from /proc/PID/status
(VmHWM) after every reply has arrived. Scenarios:

- valid:  every client sends a 64 MiB NDJSON body of valid join events (~270k each);
- mixed:  the same, except that one client sends a 64 MiB JSON array `[1,1,1,…]`
          (33 million refused events).
"""

import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

LIMIT = 64 << 20
INGEST_KEY = "bench-ingest-key"
ADMIN_KEY = "bench-admin-key"
CORP = "wwbenchcorp000001"
AGENT = 1000002
NOW = 1_760_000_000

CONFIG = f"""
ingest_key = "{INGEST_KEY}"
admin_key = "{ADMIN_KEY}"
clock = "virtual:{NOW}"

[rate_limits]
per_minute = 100000000

[[corps]]
corpid = "{CORP}"
name = "Bench"
  [[corps.departments]]
  id = 1
  name = "HQ"
  parent = 0
  [[corps.users]]
  userid = "bob"
  name = "Bob"
  departments = [1]
  [[corps.apps]]
  agentid = {AGENT}
  name = "Attendance"
  secret = "bench-secret-0123456789"
  meeting_api = true
  visible_departments = [1]
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(port, method, path, body=None, headers=None, timeout=600):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data


def ndjson_body(meetingid, tag):
    """Join events, one per line, up to just under 64 MiB."""
    lines = []
    size = 0
    i = 0
    while True:
        line = json.dumps({
            "event_id": f"{tag}-e{i}", "kind": "join", "meetingid": meetingid,
            "session": f"{tag}-s{i}", "at": NOW - 600 + (i % 500),
            "participant": {"userid": "bob"}, "instance_id": 1, "join_type": 1,
            "net": "WIFI", "audio_state": True, "video_state": False,
            "customer_data": "bench",
        }, separators=(",", ":")).encode() + b"\n"
        if size + len(line) > LIMIT:
            return b"".join(lines), i
        lines.append(line)
        size += len(line)
        i += 1


def ones_body():
    n = (LIMIT - 2) // 2
    return b"[" + b"1," * (n - 1) + b"1]", n


def status_kb(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def run(binary, scenario, clients):
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        cfg = os.path.join(tmp, "rollcall.toml")
        with open(cfg, "w") as f:
            f.write(CONFIG)
        server = subprocess.Popen(
            [binary, "serve", "--listen", f"127.0.0.1:{port}", "--data",
             os.path.join(tmp, "data"), "--config", cfg],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(200):
                try:
                    if request(port, "GET", "/readyz", timeout=1)[0] == 200:
                        break
                except OSError:
                    pass
                time.sleep(0.05)
            else:
                sys.exit("the server did not become ready")
            idle_kb = status_kb(server.pid, "VmRSS")
            bodies = []
            for c in range(clients):
                status, data = request(port, "POST", "/admin/v1/meetings", json.dumps({
                    "corpid": CORP, "agentid": AGENT, "meeting_type": 0, "title": "Bench",
                    "meeting_start": NOW - 3600, "meeting_duration": 7200,
                }).encode(), {"Authorization": f"Bearer {ADMIN_KEY}",
                             "Content-Type": "application/json"})
                assert status == 201, data
                meetingid = json.loads(data)["meetingid"]
                if scenario == "mixed" and c == clients - 1:
                    body, n = ones_body()
                    bodies.append((body, n, "application/json", 0))
                else:
                    body, n = ndjson_body(meetingid, f"c{c}")
                    bodies.append((body, n, "application/x-ndjson", n))
            replies = [None] * clients

            def send(i):
                body, _, ctype, _ = bodies[i]
                replies[i] = request(port, "POST", "/ingest/v1/events", body, {
                    "Authorization": f"Bearer {INGEST_KEY}", "Content-Type": ctype})

            started = time.monotonic()
            threads = [threading.Thread(target=send, args=(i,)) for i in range(clients)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.monotonic() - started
            peak_kb = status_kb(server.pid, "VmHWM")
            print(f"scenario {scenario}: {clients} clients, bodies of "
                  f"{', '.join(f'{len(b[0]) / (1 << 20):.1f} MiB' for b in bodies)}")
            for i, (status, data) in enumerate(replies):
                _, n, ctype, want = bodies[i]
                try:
                    rep = json.loads(data)
                except ValueError:
                    rep = {"raw": data[:200].decode(errors="replace")}
                accepted = rep.get("accepted")
                refused = len(rep.get("rejected", [])) + rep.get("rejected_omitted", 0)
                ok = status == 200 and accepted == want and accepted + refused == n
                print(f"  client {i} ({ctype}, {n} events): HTTP {status}, accepted "
                      f"{accepted}, refused {refused} {'ok' if ok else 'WRONG: ' + str(rep)[:200]}")
            print(f"  idle RSS {idle_kb / 1024:.1f} MB, peak RSS (VmHWM) {peak_kb / 1024:.1f} MB,"
                  f" all answered in {elapsed:.1f} s")
        finally:
            server.terminate()
            server.wait(timeout=30)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("binary")
    p.add_argument("--clients", type=int, default=4)
    p.add_argument("--scenario", choices=["valid", "mixed", "both"], default="both")
    a = p.parse_args()
    for s in (["valid", "mixed"] if a.scenario == "both" else [a.scenario]):
        run(a.binary, s, a.clients)


if __name__ == "__main__":
    main()
