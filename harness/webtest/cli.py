"""``mushra serve DIR``: serve a prepared study to raters."""

from __future__ import annotations

import argparse


def register(sub) -> None:
    p = sub.add_parser(
        "serve", help="serve a prepared study to (crowd) raters in the browser",
        description="Serve the MUSHRA test of a study prepared with `mushra prepare`. Ratings are saved per trial "
                    "in STUDY_DIR/ratings.sqlite (or --db). Set MUSHRA_ADMIN_TOKEN to enable /admin/.",
        epilog="Crowd links: http://HOST:PORT/?PROLIFIC_PID={{%PROLIFIC_PID%}}&STUDY_ID={{%STUDY_ID%}}&"
               "SESSION_ID={{%SESSION_ID%}} (Prolific) or ?workerId=...&assignmentId=...&hitId=... (MTurk).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("study_dir", metavar="DIR", help="prepared study folder (holds manifest.json)")
    p.add_argument("--host", default="127.0.0.1", help="interface to listen on (0.0.0.0 for all)")
    p.add_argument("--port", type=int, default=5000, help="TCP port")
    p.add_argument("--db", default=None, metavar="URL",
                   help="SQLAlchemy database URL, e.g. postgresql+psycopg://user@host/db "
                        "(default: sqlite in STUDY_DIR/ratings.sqlite)")
    p.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    p.add_argument("--dev", action="store_true", help="Flask development server with auto-reload (not for raters)")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from harness.webtest.server import serve

    if args.workers < 1:
        from harness.errors import HarnessError

        raise HarnessError("--workers must be at least 1")
    serve(args.study_dir, host=args.host, port=args.port, db=args.db, dev=args.dev, workers=args.workers)
    return 0
