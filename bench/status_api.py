"""Payment-status API: one `recon serve` process under 50 keep-alive connections, quiet and
while a big day is reconciled beside it, on SQLite and PostgreSQL.

    .venv/bin/python bench/status_api.py [--database sqlite|postgresql|both] [--dossiers 100000]
        [--seconds 20] [--connections 50] [--run-lines N] [--postgres-url URL]

Goals (docs/performance.md), on SQLite and one server process: single GETs at least 1,000
req/s with a p99 of at most 25 ms and at least 50% of the `/healthz` rate, no errors, and a
p99 while a run writes at most 2x the quiet p99.

Data: `fixtures.ward.bulk.write_month` writes a month (30 days) of `--dossiers` dossiers and as
many lines of the file-fed channel `bulk` (about 2% of the lines planted cases), and one more
day, the big day, of `--run-lines` dossiers and as many lines, each paying one of them (sized
to outlast the load: 30,000 lines a second of it by default). Per database (a fresh SQLite
file; on PostgreSQL a database `recon_bench_status` made on the server of `--postgres-url`,
dropped at the end), untimed, each a `recon` process: `db upgrade`, both imports of both
files, one `reconcile --from D1 --to D30 --channel bulk --no-pull` (the month), an API key with
`payments:read`. On PostgreSQL an `ANALYZE` follows each import and the runs, as autovacuum
would (the test server runs without it): never analyzed, `statement_lines` gets a generic plan
for the import's duplicate check that compares each row of the channel with all 5,000 ids of a
chunk, ~18 s a chunk at 100,000 rows. One key makes every request, so recon's per-key rate
limit is set out of reach (`[api] requests_per_minute = 10000000`): its work is measured, not
its 429s.

Then one `recon serve --no-scheduler` on a free loopback port, and a load generator in a
spawned process of its own (`harness.LoadGenerator`: asyncio, pre-built requests, one in
flight per connection), so the server and the generator each get a core. Scenarios, each
after a warm-up of 2 s (but the last), for `--seconds` each: `/healthz` (the framework's
ceiling); `GET /api/v1/payments/{code}` of random known codes (the month's); `POST
/api/v1/payments:query` of 100 random known codes; the single GETs again while `recon reconcile
--date D31 --channel bulk --no-pull` runs in another process, writing to the same database
(the window ends with the run if the run ends first). A request started in the window counts:
its latency from writing the request to reading the whole answer; an answer other than 2xx or
304, a lost connection or no answer is an error. Server CPU is read from /proc over each
scenario, warm-up included; client CPU is the generator's over the window.

Before the load, the API's answers are checked once: a known code (its ETag, then 304 with
If-None-Match), an unknown code (404), a query of 100 known codes and one unknown.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

# the repo first instead of bench/, whose queue.py would shadow the standard library's queue
sys.path[0] = str(Path(__file__).resolve().parent.parent)

from bench import harness as h
from fixtures.ward.bulk import BULK_CHANNEL, write_month

GOAL_RATE, GOAL_P99_MS, GOAL_SHARE, GOAL_RUN_P99 = 1000.0, 25.0, 0.5, 2.0
FIRST_DAY, DAYS = date(2025, 11, 1), 30
BIG_DAY = FIRST_DAY + timedelta(days=DAYS)  # D31, reconciled during the last scenario
BIG_DAY_LINES_PER_S = 30_000  # the big day's lines a second of load: the run outlasts the load
POSTGRES_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"  # bench databases made here
DATABASE = "recon_bench_status"
BATCH, BATCH_BODIES, WARMUP_S = 100, 1000, 2.0
RATE_UNREACHED = 10_000_000  # [api] requests_per_minute: the most recon accepts
HOST = "127.0.0.1"
QUERY = "/api/v1/payments:query"
SCENARIOS = ("healthz", "single", "batch", "single during a run")


@dataclass
class Target:
    """The served database: its port and the bench's key."""

    port: int
    key: str

    def url(self, path: str) -> str:
        return f"http://{HOST}:{self.port}{path}"

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


def request_bytes(target: Target, method: str, path: str, body: bytes = b"") -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: {HOST}:{target.port}\r\n"
    if path != "/healthz":
        head += f"Authorization: Bearer {target.key}\r\n"
    if body:
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    return (head + "\r\n").encode() + body


def single_requests(target: Target, codes: list[str]) -> tuple[bytes, ...]:
    return tuple(request_bytes(target, "GET", f"/api/v1/payments/{quote(c)}") for c in codes)


def batch_requests(target: Target, codes: list[str]) -> tuple[bytes, ...]:
    rng = random.Random(BATCH)
    bodies = (
        json.dumps({"dossier_codes": rng.sample(codes, BATCH)}).encode()
        for _ in range(BATCH_BODIES)
    )
    return tuple(request_bytes(target, "POST", QUERY, body) for body in bodies)


def check_api(target: Target, codes: list[str]) -> dict[str, tuple[Any, Any]]:
    """{check: (found, expected)} of the payments API's answers, off the clock."""
    code, unknown = codes[len(codes) // 2], "H17.25-010199-99999"
    status, headers, body = h.http_get(target.url(f"/api/v1/payments/{quote(code)}"), target.auth)
    found = json.loads(body) if status == 200 else {}
    etag = headers.get("etag", "")
    again = h.http_get(
        target.url(f"/api/v1/payments/{quote(code)}"), {**target.auth, "If-None-Match": etag}
    )
    missing = h.http_get(target.url(f"/api/v1/payments/{unknown}"), target.auth)
    asked = {"dossier_codes": [*codes[:BATCH], unknown]}
    q_status, _, q_body = h.http_post(
        target.url(QUERY),
        json.dumps(asked).encode(),
        {**target.auth, "Content-Type": "application/json"},
    )
    query = json.loads(q_body) if q_status == 200 else {}
    return {
        "GET a known code": ((status, found.get("dossier_code")), (200, code)),
        "it has an ETag": (bool(etag), True),
        "GET with If-None-Match": (again[0], 304),
        "GET an unknown code": (missing[0], 404),
        f"query {BATCH} known + 1 unknown": (
            (q_status, len(query.get("payments", [])), query.get("unknown")),
            (200, BATCH, [unknown]),
        ),
    }


# --- the database, the server ------------------------------------------------------------------


def recon_env(work: Path, url: str) -> dict[str, str]:
    return {
        **os.environ,
        "RECON_CONFIG": str(work / "recon.toml"),
        "RECON_DATABASE_URL": url,
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def prepare(kind: str, work: Path, server: str) -> tuple[str, list[dict[str, Any]]]:
    """The bench database, imported, the month reconciled: its URL and the month's runs."""
    if kind == "sqlite":
        h.remove_sqlite(work / "status.db")
        url = f"sqlite:///{work / 'status.db'}"
    else:
        url = h.fresh_postgres(server, DATABASE)
    env = recon_env(work, url)
    steps = [["db", "upgrade", "--json"]]
    for folder in (work, work / "run"):
        steps.append(["dossiers", "import", str(folder / "dossiers.csv"), "--json"])
        steps.append(
            [
                "statements",
                "import",
                "--channel",
                BULK_CHANNEL,
                str(folder / "statements.csv"),
                "--json",
            ]
        )
    for args in steps:
        step = h.cli(args, env, work)
        h.log(f"{kind} {' '.join(args[:2])}: {step['seconds']:.1f}s")
        if kind == "postgresql":  # as autovacuum would (see the module's docstring)
            h.rows_of(url, "ANALYZE")
    last = FIRST_DAY + timedelta(days=DAYS - 1)
    span = ["--from", FIRST_DAY.isoformat(), "--to", last.isoformat()]
    step = h.cli(["reconcile", *span, "--channel", BULK_CHANNEL, "--no-pull", "--json"], env, work)
    h.log(f"{kind} reconcile {DAYS} days: {step['seconds']:.1f}s")
    if kind == "postgresql":
        h.rows_of(url, "ANALYZE")
    return url, json.loads(step["stdout"])


def api_key(work: Path, url: str) -> str:
    args = ["apikeys", "create", "--name", "bench", "--scope", "payments:read"]
    step = h.cli([*args, "--json"], recon_env(work, url), work)
    return str(json.loads(step["stdout"])["key"])


# --- the scenarios -------------------------------------------------------------------------------


def scenario(
    load: h.LoadGenerator, server: subprocess.Popen[bytes], job: h.LoadJob, name: str
) -> dict[str, Any]:
    cpu, started = h.cpu_seconds(server.pid), time.perf_counter()
    found = load.run(job)
    return figures_of(name, found, h.cpu_seconds(server.pid) - cpu, time.perf_counter() - started)


def during_run(
    load: h.LoadGenerator,
    server: subprocess.Popen[bytes],
    job: h.LoadJob,
    work: Path,
    url: str,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The single GETs while `recon reconcile --date BIG_DAY` runs: their figures, the run's."""
    args = ["reconcile", "--date", BIG_DAY.isoformat(), "--channel", BULK_CHANNEL, "--no-pull"]
    cpu, started = h.cpu_seconds(server.pid), time.perf_counter()
    with (work / "run.out").open("wb") as out, (work / "run.err").open("wb") as err:
        run = subprocess.Popen(
            [str(h.RECON), *args, "--json"], stdout=out, stderr=err, env=recon_env(work, url)
        )
    try:
        load.start(job)
        while not load.ready(0.05):
            if run.poll() is not None:
                load.stop()
                break
        found = load.result()
    except BaseException:
        h.stop_process(run)  # no run left writing to a database about to be dropped
        raise
    figures = figures_of(
        SCENARIOS[3], found, h.cpu_seconds(server.pid) - cpu, time.perf_counter() - started
    )
    run.wait()
    seconds = time.perf_counter() - started
    if run.returncode != 0:
        tail = (work / "run.err").read_text(errors="replace")[-2000:]
        raise SystemExit(f"`recon {' '.join(args)}` exited {run.returncode}\n{tail}")
    return figures, {**json.loads((work / "run.out").read_text()), "seconds": seconds}


def figures_of(name: str, found: h.LoadResult, server_cpu: float, wall: float) -> dict[str, Any]:
    h.log(
        f"{name}: {found.rate:,.0f} req/s, p99 {found.percentile_ms(99):.1f} ms, "
        f"{sum(found.errors.values())} errors {found.errors or ''}"
    )
    return {
        "name": name,
        "seconds": round(found.seconds, 2),
        "requests": found.requests,
        "rps": round(found.rate, 1),
        **{f"p{p}_ms": round(found.percentile_ms(p), 2) for p in (50, 95, 99)},
        "errors": sum(found.errors.values()),
        "error_kinds": found.errors,
        "server_cpu": round(server_cpu / wall, 2),
        "client_cpu": round(found.cpu / found.seconds, 2) if found.seconds else None,
    }


def bench_database(
    kind: str, work: Path, codes: list[str], args: argparse.Namespace
) -> dict[str, Any]:
    url, runs = prepare(kind, work, args.postgres_url)
    try:
        return served(work, url, codes, args) | {"runs": runs}
    finally:
        if kind == "postgresql":
            h.drop_postgres(args.postgres_url, DATABASE)


def served(work: Path, url: str, codes: list[str], args: argparse.Namespace) -> dict[str, Any]:
    """The checks and the scenarios against one `recon serve` of the database at `url`."""
    port = h.free_port(HOST)
    server = h.serve_recon(recon_env(work, url), work, HOST, port)
    try:
        target = Target(port, api_key(work, url))
        checks = check_api(target, codes)
        singles = single_requests(target, codes)
        jobs = [
            (request_bytes(target, "GET", "/healthz"),),
            singles,
            batch_requests(target, codes),
        ]
        with h.LoadGenerator() as load:
            scenarios = [
                scenario(
                    load,
                    server,
                    h.LoadJob(port, requests, args.connections, args.seconds, WARMUP_S),
                    name,
                )
                for name, requests in zip(SCENARIOS, jobs, strict=False)
            ]
            job = h.LoadJob(port, singles, args.connections, args.seconds)
            busy, run = during_run(load, server, job, work, url)
        scenarios.append(busy)
    finally:
        h.stop_process(server)
    run["own_s"] = run_seconds(url, run["run_id"])
    return {"run": run, "scenarios": scenarios, "checks": checks}


def run_seconds(url: str, run_id: int) -> float:
    """A run's own time, from its row: finished_at - started_at."""
    row = h.rows_of(url, f"SELECT started_at, finished_at FROM runs WHERE id = {int(run_id)}")
    started, finished = (
        at if isinstance(at, datetime) else datetime.fromisoformat(at) for at in row[0]
    )
    return round((finished - started).total_seconds(), 2)


# --- the report ----------------------------------------------------------------------------------


def goals_of(scenarios: dict[str, dict[str, Any]]) -> dict[str, tuple[str, bool]]:
    """{goal: (what was found, met)} on the figures of one database."""
    healthz, single, busy = (scenarios[name] for name in ("healthz", "single", SCENARIOS[3]))
    share = single["rps"] / healthz["rps"] if healthz["rps"] else 0.0
    errors = sum(s["errors"] for s in scenarios.values())
    ratio = busy["p99_ms"] / single["p99_ms"] if single["p99_ms"] else float("inf")
    return {
        f"single GET >= {GOAL_RATE:,.0f} req/s": (
            f"{single['rps']:,.0f} req/s",
            single["rps"] >= GOAL_RATE,
        ),
        f"single GET p99 <= {GOAL_P99_MS:g} ms": (
            f"{single['p99_ms']:.1f} ms",
            single["p99_ms"] <= GOAL_P99_MS,
        ),
        f"single GET >= {GOAL_SHARE:.0%} of /healthz": (f"{share:.0%}", share >= GOAL_SHARE),
        "zero errors": (f"{errors} errors", errors == 0),
        f"p99 during a run <= {GOAL_RUN_P99:g}x quiet": (
            f"{busy['p99_ms']:.1f} ms, {ratio:.2f}x",
            ratio <= GOAL_RUN_P99,
        ),
    }


def report_database(
    kind: str, found: dict[str, Any], plan: dict[str, int], args: argparse.Namespace
) -> bool:
    """The database's table, checks, goals and figures; whether every check held."""
    scenarios = {s["name"]: s for s in found["scenarios"]}
    run, runs = found["run"], found["runs"]
    columns = ("req/s", "p50 ms", "p95 ms", "p99 ms", "errors", "server CPU", "client CPU")
    table: list[tuple[str, ...]] = [("scenario", *columns)]
    for s in found["scenarios"]:
        cells = (f"{s['rps']:,.0f}", *(f"{s[f'p{p}_ms']:.2f}" for p in (50, 95, 99)))
        share = (f"{s['server_cpu']:.0%}", f"{s['client_cpu']:.0%}")
        table.append((s["name"], *cells, str(s["errors"]), *share))
    checks: dict[str, tuple[Any, Any]] = {
        "runs of the month succeeded": (sum(r["status"] == "succeeded" for r in runs), DAYS),
        "big day's run": (run["status"], "succeeded"),
        "big day's lines matched": (run["matched"], plan["big_day_lines"]),
        **found["checks"],
    }
    notes = [f"check {name}: {got} (expected {want})" for name, (got, want) in checks.items()]
    busy = scenarios[SCENARIOS[3]]
    notes.append(
        f"big day {BIG_DAY}: {plan['big_day_lines']:,} lines, {run['matched']:,} matched; the "
        f"run's process {run['seconds']:.1f}s (its row {run['own_s']:.1f}s); load window "
        f"{busy['seconds']:.1f}s of {args.seconds:g}s"
        + (" (the run ended first)" if busy["seconds"] < args.seconds - 0.5 else "")
    )
    for name, s in scenarios.items():
        if s["error_kinds"]:
            notes.append(f"errors in {name}: {s['error_kinds']}")
    goals = goals_of(scenarios)
    if kind == "sqlite":
        notes.append(
            "goals (SQLite, one server process): "
            + "; ".join(f"{name}: {got} ({h.verdict(met)})" for name, (got, met) in goals.items())
        )
    held = all(got == want for got, want in checks.values())
    figures: dict[str, Any] = {
        "bench": "status_api",
        "database": kind,
        "dossiers": plan["dossiers"],
        "lines": plan["lines"],
        "big_day_lines": plan["big_day_lines"],
        "seconds": args.seconds,
        "connections": args.connections,
    }
    for prefix, name in zip(("healthz", "single", "batch", "busy"), SCENARIOS, strict=True):
        s = scenarios[name]
        for field in ("rps", "p50_ms", "p95_ms", "p99_ms", "errors", "server_cpu", "client_cpu"):
            figures[f"{prefix}_{field}"] = s[field]
    figures["busy_seconds"] = busy["seconds"]
    figures["run_s"], figures["run_own_s"] = round(run["seconds"], 2), run["own_s"]
    if kind == "sqlite":
        figures["goals_met"] = all(met for _, met in goals.values())
    figures["checks_held"] = held
    figures["cpu_model"] = h.cpu_model()
    size = f"{plan['dossiers']:,} dossiers, {args.connections} connections, {args.seconds:g}s each"
    h.report(f"Payment-status API on {kind}, {size}", table, notes, figures)
    return held


def recon_toml() -> str:
    """The bench's configuration: the file-fed channel, and an API rate limit out of the load's
    reach (one key makes every request), where recon has one: the limiter's work is measured,
    its refusals are not."""
    from recon.settings import FileConfig

    text = 'ward_name = "UBND phường Bench"\n'
    if "api" in FileConfig.__struct_fields__:
        text += f"[api]\nrequests_per_minute = {RATE_UNREACHED}\n"
    return text + f'[channels.{BULK_CHANNEL}]\nadapter = "file"\n'


def known_codes(path: Path) -> list[str]:
    with path.open(encoding="utf-8", newline="") as f:
        rows = csv.reader(f)
        next(rows)
        return [row[0] for row in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--dossiers", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument(
        "--run-lines",
        type=int,
        default=None,
        help="dossiers and lines of the big day (default: 30,000 a second of load)",
    )
    parser.add_argument("--postgres-url", default=POSTGRES_SERVER)
    args = parser.parse_args()
    kinds = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    run_lines = args.run_lines or round(BIG_DAY_LINES_PER_S * args.seconds)
    # recon's bytecode compiled once, as an install has it (the children don't write it)
    subprocess.run(
        [str(h.PYTHON), "-m", "compileall", "-q", str(h.ROOT / "recon"), str(h.ROOT / "adapters")],
        check=True,
    )
    with tempfile.TemporaryDirectory(prefix="recon-bench-") as tmp:
        work = Path(tmp)
        (work / "recon.toml").write_text(recon_toml())
        (work / "run").mkdir()
        started = time.perf_counter()
        month = write_month(work, dossiers=args.dossiers, lines=args.dossiers, days=DAYS)
        # one day, every line paying a dossier (no planted case: over one day, write_month
        # would date its pending lines the day before)
        extra = write_month(
            work / "run",
            dossiers=run_lines,
            lines=run_lines,
            days=1,
            first_day=BIG_DAY,
            case_share=0.0,
        )
        plan = {"dossiers": month.dossiers, "lines": month.lines, "big_day_lines": extra.lines}
        h.log(
            f"generated {month.dossiers:,} dossiers and {month.lines:,} lines, and a day of "
            f"{extra.lines:,} of each in {time.perf_counter() - started:.0f}s"
        )
        codes = known_codes(work / "dossiers.csv")
        # each database's report as soon as it is done: a later failure loses none
        held = [
            report_database(kind, bench_database(kind, work, codes, args), plan, args)
            for kind in kinds
        ]
    if not all(held):
        sys.exit(1)


if __name__ == "__main__":
    main()
