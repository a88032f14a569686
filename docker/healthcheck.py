"""The containers' health check: exit 0 when URL answers 200, else 1 with the reason on stderr.

Python's own urllib, because the slim image has neither curl nor wget. Usage:
    python /app/healthcheck.py http://127.0.0.1:8000/healthz
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: healthcheck.py URL", file=sys.stderr)
        return 2
    url = argv[1]
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            if answer.status == 200:
                return 0
            print(f"unhealthy: {url} answered {answer.status}", file=sys.stderr)
    except urllib.error.HTTPError as exc:  # 503: the API is up but its database is not
        print(f"unhealthy: {url} answered {exc.code}", file=sys.stderr)
    except (urllib.error.URLError, OSError) as exc:
        print(f"unhealthy: {url} does not answer ({exc})", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
