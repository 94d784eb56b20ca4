"""Throughput of trial submissions: `mushra serve` (gunicorn, 2 workers) + SQLite, 32 concurrent clients.

Each client takes sessions exactly like the page does (POST /api/sessions, GET .../next once, then
POST .../trials/ID whose answer carries the next step) for about 10 s over keep-alive HTTP connections. Printed: submissions/s (issue 5 requires >= 300), p50/p99
latency of submissions, errors, and lost/duplicated rating rows counted in the database afterwards (0 required).

    .venv/bin/python benchmarks/bench_webtest.py [--clients 32] [--seconds 10] [--workers 2] [--db URL]
                                                 [--adaptive off|on|both]

``--adaptive both`` runs the same benchmark without and then with an adaptive study (a precision target it cannot
reach, so every new session is steered and the study state is recomputed every 5 s per worker) and prints the
ratio of the two throughputs measured in the same invocation.

Rate limiting is switched off (MUSHRA_RATE_LIMIT=0) because every client comes from 127.0.0.1.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
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


def run(args, *, adaptive: bool) -> dict:
    """One server + client run; ``adaptive``: the study has a precision target (issue 16) it cannot reach in the
    run, so the server steers every new session and recomputes the study state every 5 s per worker."""
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
    env = {**os.environ, "MUSHRA_RATE_LIMIT": "0", "PYTHONPATH": str(REPO)}
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
          f"cpus={os.cpu_count()} adaptive={'on (precision target, steering)' if adaptive else 'off'}")
    print(f"submissions: {saved} in {elapsed:.1f} s = {saved / elapsed:.0f} submissions/s "
          f"(required >= 300)")
    print(f"latency per submission: p50 {pct(0.5):.1f} ms, p99 {pct(0.99):.1f} ms, max {1000 * lat[-1]:.1f} ms")
    print(f"errors: {errors}; trials saved in DB: {trials}; rating rows: {rows} (expected {saved * n_cond}); "
          f"lost rows: {saved * n_cond - rows}; duplicated (trial, condition): {len(dup)}")
    per = 1000 * server_cpu / max(saved, 1)
    print(f"server CPU: {server_cpu:.1f} s = {per:.2f} ms per submission (including the next step it returns and "
          f"the session creations); 2 idle cores would allow about {2000 / per:.0f} submissions/s for the server alone; "
          f"CPU s per worker: {per_worker}")
    print(f"machine load average during the run: {load0:.1f} -> {load1:.1f} (other work on the machine slows this)")
    ok = errors == 0 and rows == saved * n_cond and not dup and saved / elapsed >= 300
    return {"ok": ok, "rate": saved / elapsed, "cpu_ms": per, "ratings": rows, "study": study}


def recompute_cost(n_ratings: int, *, repeats: int = 3) -> float:
    """Seconds for one recomputation of an adaptive study's state over ``n_ratings`` ratings that all pass
    screening (the benchmark's own clients are screened out, which makes their recomputations cheaper)."""
    from harness.webtest.adaptive import evaluate
    from harness.webtest.study import load_study
    from tests.webtest._crowd import Crowd, build_crowd_study

    tmp = Path(tempfile.mkdtemp(prefix="bench_recompute_"))
    study = load_study(build_crowd_study(tmp / "s", rater={"trials_per_rater": 3, "precision": 0.5,
                                                            "max_raters": 10**6}))
    crowd = Crowd(study, seed=0)
    import pandas as pd

    rows, n = [], 0
    while len(rows) < n_ratings:
        r = crowd.rater(n)
        r["careless"] = False
        for item in study.items[n % 5: n % 5 + 3]:
            for c in study.conditions[item]:
                rows.append({"session_id": n, "rater": f"r{n}", "item": item, "condition": c,
                             "score": crowd.score(r, item, c), "plays": 1, "listen_ms": 5000.0,
                             "submitted_at": n})
        n += 1
    frame = pd.DataFrame(rows)
    cat = {i.id: i.category for i in study.manifest.items}
    kinds = {c.id: c.kind for c in study.manifest.conditions}
    frame["category"], frame["kind"] = frame["item"].map(cat), frame["condition"].map(kinds)
    best = math.inf
    for _ in range(repeats):
        t = time.perf_counter()
        evaluate(frame, study, finished=n, in_flight=0, pending={})
        best = min(best, time.perf_counter() - t)
    return best


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--client-procs", type=int, default=4, help="client processes (threads are split over them)")
    ap.add_argument("--db", default=None, help="database URL (default: SQLite in the study folder)")
    ap.add_argument("--adaptive", choices=("off", "on", "both"), default="off",
                    help="adaptive study (precision target, issue 16): on, off, or both in one run with the ratio")
    args = ap.parse_args()
    modes = {"off": [False], "on": [True], "both": [False, True]}[args.adaptive]
    out = {}
    for adaptive in modes:
        out[adaptive] = run(args, adaptive=adaptive)
        print()
    if True in out:
        from harness.webtest.adaptive import REFRESH_S

        cost = recompute_cost(out[True]["ratings"])
        print(f"adaptive state recomputation over {out[True]['ratings']} ratings that all pass screening: "
              f"{1000 * cost:.0f} ms, at most once per {REFRESH_S:g} s per worker = {100 * cost / REFRESH_S:.1f} % of "
              f"one core per worker")
    if len(out) == 2:
        print(f"adaptive on / off: {out[True]['rate'] / out[False]['rate']:.2f}x submissions/s, "
              f"{out[True]['cpu_ms'] / out[False]['cpu_ms']:.2f}x server CPU per submission (same run, same machine)")
    ok = all(r["ok"] for r in out.values())
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
