"""``mushra serve DIR``: serve a prepared study to raters."""

from __future__ import annotations

import argparse


def register(sub) -> None:
    p = sub.add_parser(
        "serve", help="serve a prepared study to (crowd) raters in the browser",
        description="Serve the MUSHRA test of a study prepared with `mushra prepare` (gunicorn).\n"
                    "Ratings are saved per trial in DIR/ratings.sqlite (or --db).\n"
                    "Set MUSHRA_ADMIN_TOKEN to enable the admin dashboard and CSV export at /admin/.",
        epilog="crowd links:\n  Prolific: http://HOST:PORT/?PROLIFIC_PID={{%PROLIFIC_PID%}}&STUDY_ID={{%STUDY_ID%}}"
               "&SESSION_ID={{%SESSION_ID%}}\n  MTurk:    http://HOST:PORT/?workerId=...&assignmentId=...&hitId=...\n"
               "environment: MUSHRA_ADMIN_TOKEN, MUSHRA_SECRET_KEY, MUSHRA_RATE_LIMIT, MUSHRA_TRUST_PROXY "
               "(see docs/webapp.md)",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("study_dir", metavar="DIR", help="prepared study folder (holds manifest.json)")
    p.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1; 0.0.0.0 for all)")
    p.add_argument("--port", type=int, default=5000, help="TCP port (default 5000)")
    p.add_argument("--db", default=None, metavar="URL",
                   help="SQLAlchemy database URL, e.g. postgresql+psycopg://user@host/db "
                        "(default: SQLite in DIR/ratings.sqlite)")
    p.add_argument("--workers", type=int, default=2, help="gunicorn worker processes (default 2)")
    p.add_argument("--dev", action="store_true", help="Flask development server with auto-reload (not for raters)")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from harness.extras import require

    require("flask", "gunicorn", purpose="`mushra serve`")
    from harness.webtest.server import serve

    if args.workers < 1:
        from harness.errors import HarnessError

        raise HarnessError("--workers must be at least 1")
    serve(args.study_dir, host=args.host, port=args.port, db=args.db, dev=args.dev, workers=args.workers)
    return 0
