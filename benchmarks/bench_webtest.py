"""Throughput of trial submissions: `mushra serve` (gunicorn, 2 workers) + SQLite, 32 concurrent clients.

Each client takes sessions exactly like the page does (POST /api/sessions, GET .../next once, then
POST .../trials/ID whose answer carries the next step) for about 10 s over keep-alive HTTP connections. Printed: submissions/s (issue 5 requires >= 300), p50/p99
latency of submissions, errors, and lost/duplicated rating rows counted in the database afterwards (0 required).

    .venv/bin/python benchmarks/bench_webtest.py [--clients 32] [--seconds 10] [--workers 2] [--db URL]
                                                 [--adaptive off|on|both]

Rate limiting is switched off (MUSHRA_RATE_LIMIT=0, MUSHRA_SESSION_LIMIT="") because every client comes from
127.0.0.1. The listening-evidence checks run on every submission (default: flag, not reject; these clients never
download audio, so every trial is flagged ``not_fetched``).

``--baseline DIR`` then runs the same benchmark against the code in DIR (e.g. /work/main) right after, and prints
the ratio of the two throughputs: on a shared, loaded machine the ratio is the figure to compare.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _client(port: int, deadline: float, out: list, idx: int) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    lat, errors, saved = [], 0, 0

    def call(method: str, path: str, body=None):
        nonlocal conn
        headers = {"Content-Type": "application/json"} if body is not None else {}
        for attempt in range(3):
            try:
                conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
                r = conn.getresponse()
                return r.status, json.loads(r.read() or b"{}")
            except (http.client.HTTPException, OSError):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                if attempt == 2:
                    raise
        raise AssertionError

    k = 0
    while time.monotonic() < deadline:
        status, body = call("POST", "/api/sessions", {"participant_id": f"bench-{idx}-{k}"})
        k += 1
        if status not in (200, 201):
            errors += 1
            continue
        token = body["session"]
        status, step = call("GET", f"/api/sessions/{token}/next")
        while time.monotonic() < deadline:
            if status != 200:
                errors += 1
                break
            if step["kind"] != "mushra":
                break  # questionnaire: start a new session
            ratings = {s["id"]: 50 + (i * 7) % 50 for i, s in enumerate(step["stimuli"])}
            ratings[step["stimuli"][0]["id"]] = 100
            t0 = time.perf_counter()
            status, answer = call("POST", f"/api/sessions/{token}/trials/{step['trial']}",
                                  {"ratings": ratings, "telemetry": {"plays": {s: 1 for s in ratings}}})
            lat.append(time.perf_counter() - t0)
            if status == 200:
                saved += 1
                step = answer["next"]  # the answer carries the next step, as the page uses it
            else:
                errors += 1
                status, step = call("GET", f"/api/sessions/{token}/next")
    conn.close()
    out.append((lat, errors, saved))


def _proc(port: int, deadline: float, threads: int, first: int, q) -> None:
    out: list = []
    ts = [threading.Thread(target=_client, args=(port, deadline, out, first + i)) for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    q.put(out)


def _server_procs(pid: int) -> list:
    import psutil

    master = psutil.Process(pid)
    return [master] + master.children(recursive=True)


def _cpu(procs: list) -> float:
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except Exception:  # noqa: BLE001 - a worker that exited
            pass
    return total


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--client-procs", type=int, default=4, help="client processes (threads are split over them)")
    ap.add_argument("--db", default=None, help="database URL (default: SQLite in the study folder)")
    ap.add_argument("--baseline", default=None, metavar="DIR",
                    help="also serve with the harness code in DIR (same study, same clients) and print the ratio")
    ap.add_argument("--adaptive", choices=("off", "on", "both"), default="off",
                    help="adaptive study (issue 16: a precision target it cannot reach, so every new session is "
                         "steered); both: without, then with, and the ratio of the two")
    args = ap.parse_args()
    if args.adaptive == "both":
        rc_off, off = run(args, REPO)
        print("--- adaptive on")
        rc, rate = run(args, REPO, adaptive=True)
        _recompute_line(args)
        print(f"adaptive on / off: {rate / off:.2f}x submissions/s ({rate:.0f} vs {off:.0f}; same invocation)")
        return max(rc, rc_off)
    rc, rate = run(args, REPO, adaptive=args.adaptive == "on")
    if args.adaptive == "on":
        _recompute_line(args)
    if args.baseline:
        print(f"--- baseline: {args.baseline}")
        _, base = run(args, Path(args.baseline).resolve())
        print(f"throughput ratio this code / baseline: {rate / base:.2f} ({rate:.0f} vs {base:.0f} submissions/s)")
    return rc


def run(args, code_dir: Path, *, adaptive: bool = False) -> tuple[int, float]:
    """One server + client run. ``adaptive``: the study has a precision target it cannot reach in the run
    (``[rater] precision = 0.5``), so every new session is steered and the study state is re-evaluated."""
    from sqlalchemy import func, select

    from harness.ratings.db import open_database
    from harness.ratings.models import Rating, Trial
    from tests.webtest._study import build_study

    tmp = Path(tempfile.mkdtemp(prefix="bench_webtest_"))
    rater = {"trials_per_rater": 20, "training_items": 0, "ratings_per_item": 100000}
    if adaptive:
        rater.update(precision=0.5, max_raters=1_000_000)
    study = build_study(tmp / "study", n_items=20, seconds=1.0, rater=rater)
    port = _free_port()
    env = {**os.environ, "MUSHRA_RATE_LIMIT": "0", "MUSHRA_SESSION_LIMIT": "", "PYTHONPATH": str(code_dir)}
    cmd = [sys.executable, "-m", "harness.cli", "serve", str(study), "--port", str(port),
           "--workers", str(args.workers)] + (["--db", args.db] if args.db else [])
    server = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              start_new_session=True)
    try:
        print(server.stdout.readline().strip())
        for _ in range(200):
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                c.request("GET", "/healthz")
                if c.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.05)
        for _ in range(100):  # every worker forked...
            procs_srv = _server_procs(server.pid)
            if len(procs_srv) >= args.workers + 1:
                break
            time.sleep(0.1)
        time.sleep(3.0)  # ...and done loading the app: else the first worker accepts every keep-alive client
        cpu0 = _cpu(procs_srv)
        per_worker0 = [_cpu([p]) for p in procs_srv[1:]]
        load0 = os.getloadavg()[0]
        ctx = mp.get_context("spawn")
        q = ctx.Queue()
        procs_n = max(1, min(args.client_procs, args.clients))
        per = [args.clients // procs_n + (1 if i < args.clients % procs_n else 0) for i in range(procs_n)]
        t_start = time.monotonic() + 1.5  # let the spawned client processes start
        deadline = t_start + args.seconds
        procs, first = [], 0
        for n in per:
            p = ctx.Process(target=_proc, args=(port, deadline, n, first, q))
            p.start()
            procs.append(p)
            first += n
        results = [r for _ in procs for r in q.get()]
        for p in procs:
            p.join()
        elapsed = time.monotonic() - t_start
        server_cpu = _cpu(procs_srv) - cpu0
        per_worker = [round(_cpu([p]) - c0, 1) for p, c0 in zip(procs_srv[1:], per_worker0)]
        load1 = os.getloadavg()[0]
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(20)
    lat = sorted(x for r in results for x in r[0])
    errors = sum(r[1] for r in results)
    saved = sum(r[2] for r in results)
    db = open_database(args.db or f"sqlite:///{study / 'ratings.sqlite'}")
    with db.Read() as s:
        rows = s.scalar(select(func.count()).select_from(Rating))
        trials = s.scalar(select(func.count()).select_from(Trial).where(Trial.submitted_at.is_not(None)))
        dup = s.execute(select(Rating.trial_id, Rating.condition).group_by(Rating.trial_id, Rating.condition)
                        .having(func.count() > 1)).all()
    db.dispose()
    n_cond = 5
    pct = lambda q: 1000 * lat[min(len(lat) - 1, int(q * len(lat)))] if lat else float("nan")  # noqa: E731
    print(f"clients={args.clients} workers={args.workers} db={'sqlite' if not args.db else args.db.split(':')[0]} "
          f"cpus={os.cpu_count()} adaptive={'on' if adaptive else 'off'}")
    print(f"submissions: {saved} in {elapsed:.1f} s = {saved / elapsed:.0f} submissions/s "
          f"(required >= 400)")
    print(f"latency per submission: p50 {pct(0.5):.1f} ms, p99 {pct(0.99):.1f} ms, max {1000 * lat[-1]:.1f} ms")
    print(f"errors: {errors}; trials saved in DB: {trials}; rating rows: {rows} (expected {saved * n_cond}); "
          f"lost rows: {saved * n_cond - rows}; duplicated (trial, condition): {len(dup)}")
    per = 1000 * server_cpu / max(saved, 1)
    print(f"server CPU: {server_cpu:.1f} s = {per:.2f} ms per submission (including the next step it returns and "
          f"the session creations); 2 idle cores would allow about {2000 / per:.0f} submissions/s for the server alone; "
          f"CPU s per worker: {per_worker}")
    print(f"machine load average during the run: {load0:.1f} -> {load1:.1f} (other work on the machine slows this)")
    ok = errors == 0 and rows == saved * n_cond and not dup and saved / elapsed >= 400
    print("PASS" if ok else "FAIL")
    return (0 if ok else 1), saved / elapsed


def _recompute_line(args) -> None:
    """The cost of one adaptive re-evaluation over 5,000 ratings that all pass screening (the benchmark's own
    clients rate at random and are screened out, which makes the server's re-evaluations cheaper than real ones)."""
    import math

    import pandas as pd

    from harness.webtest.adaptive import REFRESH_S, evaluate
    from harness.webtest.study import load_study
    from tests.webtest._crowd import Crowd, build_crowd_study

    tmp = Path(tempfile.mkdtemp(prefix="bench_recompute_"))
    study = load_study(build_crowd_study(tmp / "s", rater={"trials_per_rater": 3, "precision": 0.5,
                                                            "max_raters": 10**6}))
    crowd = Crowd(study, seed=0)
    rows, n = [], 0
    while len(rows) < 5000:
        r = dict(crowd.rater(n), careless=False)
        for item in study.items[n % 5: n % 5 + 3]:
            rows += [{"session_id": n, "rater": f"r{n}", "item": item, "condition": c, "score": crowd.score(r, item, c),
                      "plays": 1, "listen_ms": 5000.0, "submitted_at": n} for c in study.conditions[item]]
        n += 1
    frame = pd.DataFrame(rows)
    frame["category"] = frame["item"].map({i.id: i.category for i in study.manifest.items})
    frame["kind"] = frame["condition"].map({c.id: c.kind for c in study.manifest.conditions})
    best = math.inf
    for _ in range(3):
        t = time.perf_counter()
        evaluate(frame, study, finished=n, in_flight=0, pending={})
        best = min(best, time.perf_counter() - t)
    print(f"one adaptive re-evaluation over {len(frame)} ratings (all pass screening): {1000 * best:.0f} ms; the "
          f"server runs one at most every {REFRESH_S:g} s for all workers together (longer when it takes > 5 % of that)")


if __name__ == "__main__":
    sys.exit(main())
