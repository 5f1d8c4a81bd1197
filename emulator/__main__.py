"""CLI: `python -m emulator --port PORT --seed N --now ISO8601 [--scale demo|medium|large] [--counts ...]
[--profile stress|healthy]
[--latency-ms N] [--jira-burst N] [--github-secondary 403|429 --github-secondary-every N] [--host 127.0.0.1]
[--lenient] [--pagerduty-no-teams]`.

Prints exactly one line, `emulator listening on http://HOST:PORT`, once the socket accepts connections, so
scripts can wait for it; SIGTERM and SIGINT stop it cleanly.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType

from emulator.auth import DEMO_JIRA_EMAIL, ENV_VARS, Credentials
from emulator.config import (
    DEFAULT_HOST,
    DEFAULT_NOW,
    DEFAULT_PORT,
    DEFAULT_PROFILE,
    DEFAULT_SCALE,
    DEFAULT_SEED,
    EmulatorConfig,
)
from emulator.faults import KINDS, FaultPlan
from emulator.generator import DEFAULT_JIRA_TIME_ZONE, DEFAULT_PAGERDUTY_TIME_ZONE
from emulator.server import make_server
from emulator.timefmt import TimeFormatError, parse_iso, zone
from emulator.timeline import COUNT_KEYS, PROFILES, SCALES, parse_counts


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m emulator",
        description="Deterministic Jira Cloud / PagerDuty / GitHub REST API emulator. Base URLs: "
        "http://HOST:PORT/jira, /pagerduty, /github; control endpoints under /__emulator/.",
    )
    p.add_argument("--host", default=DEFAULT_HOST, help=f"interface to bind (default: {DEFAULT_HOST})")
    p.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"TCP port; 0 picks a free one (default: {DEFAULT_PORT})",
    )
    p.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help=f"data generator seed (default: {DEFAULT_SEED})"
    )
    p.add_argument(
        "--now",
        default=DEFAULT_NOW,
        help=f"start value of the emulated clock, ISO 8601 (default: {DEFAULT_NOW})",
    )
    p.add_argument(
        "--scale",
        default=DEFAULT_SCALE,
        choices=sorted(SCALES),
        help=f"data volume (default: {DEFAULT_SCALE})",
    )
    p.add_argument(
        "--profile",
        default=DEFAULT_PROFILE,
        choices=sorted(PROFILES),
        help=f"how the organisation behaves: healthy (a healthy mid-size organisation, the demo's) or stress "
        f"(every edge case, often; what most tests ask for) (default: {DEFAULT_PROFILE})",
    )
    p.add_argument(
        "--jira-email", help=f"Jira API user (default: ${ENV_VARS['jira_email']} or {DEMO_JIRA_EMAIL})"
    )
    p.add_argument(
        "--jira-token", help=f"Jira API token (default: ${ENV_VARS['jira_token']} or the demo token)"
    )
    p.add_argument(
        "--pagerduty-token",
        help=f"PagerDuty API key (default: ${ENV_VARS['pagerduty_token']} or the demo token)",
    )
    p.add_argument(
        "--github-token", help=f"GitHub token (default: ${ENV_VARS['github_token']} or the demo token)"
    )
    p.add_argument(
        "--jira-time-zone",
        default=DEFAULT_JIRA_TIME_ZONE,
        help=f"time zone of the Jira API user (default: {DEFAULT_JIRA_TIME_ZONE})",
    )
    p.add_argument(
        "--pagerduty-time-zone",
        default=DEFAULT_PAGERDUTY_TIME_ZONE,
        help=f"PagerDuty account time zone (default: {DEFAULT_PAGERDUTY_TIME_ZONE})",
    )
    p.add_argument(
        "--verbose", action="store_true", help="log one line per request to stderr (never credentials)"
    )
    p.add_argument("--fault-rate", type=float, default=0.0,
                   help="share of API requests answered with a fault, 0..1 (default: 0)")
    p.add_argument("--faults", default=",".join(KINDS),
                   help=f"comma-separated fault kinds to draw from (default: all: {','.join(KINDS)})")
    p.add_argument("--fault-seed", type=int, default=0,
                   help="seed of the fault sequence, so a failing run can be replayed (default: 0)")
    p.add_argument("--fault-delay", type=float, default=2.0,
                   help="seconds a 'timeout' holds the connection and a 'slow' answer waits (default: 2)")
    p.add_argument("--counts", default="",
                   help="explicit volumes overriding the scale, e.g. incidents=5000,pulls=20000 (records created "
                        f"before the start clock; names: {', '.join(COUNT_KEYS)})")
    p.add_argument("--latency-ms", type=float, default=0.0,
                   help="milliseconds added to every API request, like network and server time (default: 0)")
    p.add_argument("--jira-burst", type=int, default=None,
                   help="Jira burst limit: this many requests pass, the next is answered 429 + Retry-After "
                        "(default: $EMULATOR_JIRA_BURST or off)")
    p.add_argument("--github-rate-limit", type=int, default=5000,
                   help="GitHub primary rate limit per token per emulated hour (default: 5000)")
    p.add_argument("--github-secondary", type=int, choices=(403, 429), default=None,
                   help="answer GitHub secondary rate limits with this status (with --github-secondary-every)")
    p.add_argument("--github-secondary-every", type=int, default=0,
                   help="refuse every Nth GitHub request with a secondary rate limit (default: 0 = never)")
    p.add_argument("--retry-after", type=int, default=1,
                   help="Retry-After seconds of the Jira burst 429 and GitHub's secondary limit (default: 1)")
    p.add_argument("--lenient", action="store_true",
                   help="answer more kindly than the vendors (runs carry repository.default_branch, total_count is "
                        "not capped, no PagerDuty rate-limit headers); default: strict (emulator/strict.py)")
    p.add_argument("--pagerduty-no-teams", action="store_true",
                   help="a PagerDuty account without the Teams feature: /teams answers 402 Payment Required")
    p.add_argument("--github-graphql-points", type=int, default=None,
                   help="GitHub GraphQL points per token per emulated hour (default: 5000)")
    p.add_argument("--realtime-limits", action="store_true",
                   help="enforce the vendors' per-minute limits on the real clock (PagerDuty 960 requests a minute per "
                        "key; GitHub 900 points a minute per REST endpoint, 2,000 for GraphQL): for benchmarks of "
                        "wall time; off by default: tests must not depend on how fast the machine is")
    p.add_argument("--clock-rate", type=float, default=0.0,
                   help="let the emulated clock also run on its own, this many emulated seconds per real second "
                        "(e.g. 3600: an hour per second, to wait through quota resets fast; default: 0 = only when "
                        "advanced)")
    return p


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        parse_iso(args.now)
        zone(args.jira_time_zone)
        zone(args.pagerduty_time_zone)
    except TimeFormatError as exc:
        parser.error(str(exc))
    try:
        counts = parse_counts(args.counts)
    except ValueError as exc:
        parser.error(f"--counts: {exc}")
    if args.latency_ms < 0 or (args.jira_burst is not None and args.jira_burst < 0) or args.github_rate_limit < 1 \
            or args.clock_rate < 0 or (args.github_graphql_points is not None and args.github_graphql_points < 1):
        parser.error("--latency-ms, --jira-burst and --clock-rate must not be negative, --github-rate-limit and "
                     "--github-graphql-points must be at least 1")
    if args.github_secondary_every and args.github_secondary is None:
        args.github_secondary = 403
    creds = Credentials.resolve(
        jira_email=args.jira_email,
        jira_token=args.jira_token,
        pagerduty_token=args.pagerduty_token,
        github_token=args.github_token,
    )
    config = EmulatorConfig(
        seed=args.seed,
        now=args.now,
        scale=args.scale,
        profile=args.profile,
        credentials=creds,
        jira_time_zone=args.jira_time_zone,
        pagerduty_time_zone=args.pagerduty_time_zone,
        fault_rate=args.fault_rate,
        fault_kinds=tuple(k for k in args.faults.split(",") if k),
        fault_seed=args.fault_seed,
        fault_delay_s=args.fault_delay,
        latency_ms=args.latency_ms,
        counts=tuple(sorted(counts.items())),
        jira_burst=args.jira_burst,
        github_rate_limit=args.github_rate_limit,
        github_secondary=args.github_secondary,
        github_secondary_every=args.github_secondary_every,
        retry_after_s=args.retry_after,
        strict=not args.lenient,
        pagerduty_no_teams=args.pagerduty_no_teams,
        clock_rate=args.clock_rate,
        github_graphql_points=args.github_graphql_points,
        realtime_limits=args.realtime_limits,
    )
    try:
        FaultPlan(rate=config.fault_rate, kinds=config.fault_kinds or KINDS)
    except ValueError as exc:
        parser.error(str(exc))
    try:
        server = make_server(config, args.host, args.port, args.verbose)
    except OSError as exc:
        print(f"emulator: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 2

    def stop(signum: int, frame: FrameType | None) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"emulator listening on http://{server.server_name}:{server.server_port}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.close_connections()
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
