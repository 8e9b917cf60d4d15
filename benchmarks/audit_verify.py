"""How fast the audit chain is verified, next to a bare read of the same rows.

Issue 8 asks for verification of at least 200,000 events/s over 1,000,000 events with memory
that does not grow with the chain; issue 12 for a verification that no HTTP timeout cuts off.
This fills the audit table of a fresh database with N valid chained events (default 1,000,000;
hashes computed with the documented recipe), writes a signed checkpoint of the head, then, in a
child process (on PostgreSQL connected as the app's database role, as production runs), times,
alternating, best of `--repeats` each:

- the bare read (PostgreSQL: `COPY` of the hashed columns `ORDER BY seq`, rows read and
  dropped, the cheapest way to get them out; also, as before, the same `SELECT` through a
  server-side cursor; SQLite: the verifier's `SELECT` through a cursor, rows dropped);
- `audit_chain_verify()`: seal, walk, hash every event, hold the chain to the checkpoint.

It reports events/s (wall clock), the ratio verification / bare read, CPU seconds of the verifier
and, on PostgreSQL, of its database backend (what a shared machine's load does not inflate:
the two work side by side, so on an idle machine the wall clock is about the larger of the two),
and the child's peak RSS after a walk over N/10 events and again over N events (same process,
table grown in between), so the two memory figures show whether the verifier grows with the chain.

Run with `scripts/bench audit_verify [--events N] [--repeats R]` (PostgreSQL); for the embedded
default, against a fresh SQLite file (it refuses a database that already has events):
`env -u DATABASE_URL SECRET_KEY=x STEWARD_VAR_DIR=$(mktemp -d) .venv/bin/python -m benchmarks.audit_verify`.
"""

import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
TARGET_EVENTS_PER_S = 200_000
_ACTIONS = ["model_version.register", "promotion.request", "signoff.approve", "dataset.update", "auth.login"]
_COLUMNS = ["seq", "timestamp", "actor_id", "actor_username", "action", "object_type", "object_id",
            "object_repr", "changes", "request_id", "source_ip", "prev_hash", "hash"]


def _setup():
    import django

    django.setup()


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _events(start: int, count: int, last: str):
    """Rows for `_COLUMNS`: valid events #start… after the hash `last`, by the documented recipe."""
    from audit.services import hash_of

    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    for seq in range(start, start + count):
        action = _ACTIONS[seq % len(_ACTIONS)]
        stamp = t0 + timedelta(seconds=seq, microseconds=(seq * 7919) % 1_000_000 if seq % 10 else 0)
        content = {
            "seq": seq, "timestamp": stamp.isoformat(), "actor_id": seq % 50 or None,
            "actor_username": f"user{seq % 50}" if seq % 50 else "", "action": action,
            "object_type": "registry.modelversion", "object_id": str(seq // 3),
            "object_repr": f"credit-gbm v{seq // 3} — Müller", "changes": {"stage": {"before": "qa", "after": "production"}, "n": seq},
            "request_id": f"{seq:032x}", "source_ip": f"10.{seq % 256}.{seq // 256 % 256}.1" if seq % 4 else None,
        }
        digest = hash_of(last, content)
        yield [seq, stamp, content["actor_id"], content["actor_username"], action, content["object_type"],
               content["object_id"], content["object_repr"], json.dumps(content["changes"]),
               content["request_id"], content["source_ip"], last, digest]
        last = digest


def populate(start: int, count: int) -> None:
    """Append `count` valid events after #`start - 1` (PostgreSQL: one COPY; SQLite: batches)."""
    from django.db import connection, transaction

    from audit.models import AuditEvent
    from audit.services import GENESIS_HASH

    last = AuditEvent.objects.filter(seq=start - 1).values_list("hash", flat=True).first() if start > 1 else GENESIS_HASH
    rows = _events(start, count, last)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            with cursor.cursor.copy(f"COPY audit_auditevent ({', '.join(_COLUMNS)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            cursor.execute("VACUUM ANALYZE audit_auditevent")
        return
    sql = f"INSERT INTO audit_auditevent ({', '.join(_COLUMNS)}) VALUES ({', '.join(['%s'] * len(_COLUMNS))})"
    with transaction.atomic(), connection.cursor() as cursor:
        batch = []
        for row in rows:
            row[1] = row[1].replace(tzinfo=None).isoformat(" ")  # as Django stores it: naive UTC
            batch.append(row)
            if len(batch) == 10_000:
                cursor.executemany(sql, batch)
                batch.clear()
        cursor.executemany(sql, batch)


def _backend_cpu(cursor) -> float:
    """CPU seconds the connection's PostgreSQL backend has used (it runs on this machine)."""
    cursor.execute("SELECT pg_backend_pid()")
    with open(f"/proc/{cursor.fetchone()[0]}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


_BARE_SELECT = ("SELECT id, seq, timestamp, actor_id, actor_username, action, object_type, object_id, object_repr, "
                "changes, request_id, source_ip, prev_hash, hash FROM audit_auditevent WHERE seq IS NOT NULL ORDER BY seq")


def copy_read() -> float:
    """PostgreSQL: the hashed columns with COPY, rows read and dropped."""
    from django.db import connection

    start = time.perf_counter()
    with connection.cursor() as cursor, cursor.cursor.copy(f"COPY ({_BARE_SELECT}) TO STDOUT") as copy:
        for _row in copy:
            pass
    return time.perf_counter() - start


def cursor_read() -> float:
    """The same SELECT through a cursor, 10,000 rows a fetch (PostgreSQL: server-side; SQLite:
    the verifier's own SELECT, timestamps as text, which skips Django's datetime converter)."""
    from django.db import connection, transaction

    from audit.verify import _SQLITE_ROWS

    on_postgresql = connection.vendor == "postgresql"
    start = time.perf_counter()
    # PostgreSQL: a server-side cursor lives in a transaction; SQLite's would take the write lock.
    with transaction.atomic() if on_postgresql else contextlib.nullcontext(), connection.chunked_cursor() as cursor:
        cursor.execute(_BARE_SELECT if on_postgresql else _SQLITE_ROWS)
        while cursor.fetchmany(10_000):
            pass
    return time.perf_counter() - start


def worker(repeats: int) -> None:
    """Child process: time the bare reads and the verification, alternating."""
    _setup()
    from django.db import connection

    from audit.verify import audit_chain_verify

    on_postgresql = connection.vendor == "postgresql"
    bare_reads = {"copy": copy_read, "cursor": cursor_read} if on_postgresql else {"cursor": cursor_read}
    for read in bare_reads.values():
        read()  # warm-up: the table's pages in cache
    before = _rss_mib()
    bare = {name: [] for name in bare_reads}
    verify, cpu, db_cpu, report = [], [], [], None
    for _ in range(repeats):
        for name, read in bare_reads.items():
            bare[name].append(read())
        with connection.cursor() as cursor:
            db_start = _backend_cpu(cursor) if on_postgresql else 0.0
        start, start_cpu = time.perf_counter(), time.process_time()
        report = audit_chain_verify()
        verify.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
        with connection.cursor() as cursor:
            db_cpu.append(_backend_cpu(cursor) - db_start if on_postgresql else 0.0)
    print(json.dumps({
        "vendor": connection.vendor, "bare": {name: min(t) for name, t in bare.items()}, "verify": min(verify),
        "cpu": min(cpu), "db_cpu": min(db_cpu), "ok": report.ok, "checked": report.checked,
        "checkpoint": report.checkpoint, "rss_before": before, "rss_peak": _rss_mib(),
    }))


def measure(repeats: int) -> dict:
    env = dict(os.environ)
    if os.environ.get("STEWARD_DB_APP_URL"):
        env["DATABASE_URL"] = os.environ["STEWARD_DB_APP_URL"]
    out = subprocess.run([sys.executable, "-m", "benchmarks.audit_verify", "--worker", "--repeats", str(repeats)],
                         env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.repeats)
        return 0
    _setup()
    from django.core.management import call_command
    from django.db import connection

    from audit.checkpoints import checkpoint_write
    from audit.models import AuditEvent

    if "audit_auditevent" in connection.introspection.table_names() and AuditEvent.objects.exists():
        print("the audit table already holds events: run against a fresh database", file=sys.stderr)
        return 2
    if connection.vendor == "sqlite":
        call_command("migrate", verbosity=0)  # scripts/bench migrates PostgreSQL as the owner
    rows, small = [], args.events // 10
    for total, added_from in ((small, 1), (args.events, small + 1)):
        start = time.perf_counter()
        populate(added_from, total - added_from + 1)
        filled = time.perf_counter() - start
        checkpoint_write()
        got = measure(args.repeats)
        assert got["ok"] and got["checked"] == total, got
        rows.append((total, filled, got))
        print(f"  {total:,} events: filled in {filled:.1f} s; checkpoint #{got['checkpoint']['seq']}", file=sys.stderr)

    vendor = rows[0][2]["vendor"]
    print(f"{vendor}; load average {' '.join(f'{x:.1f}' for x in os.getloadavg())} (1, 5, 15 min) on {os.cpu_count()} cores")
    reads = list(rows[0][2]["bare"])
    print("| events | " + " | ".join(f"bare read ({r})" for r in reads) + " | verify | events/s | "
          + " | ".join(f"ratio to {r}" for r in reads) + " | target | verifier CPU (events/s) | database CPU "
          "| verifier RSS before → peak |")
    print("|---:|" + "---:|" * len(reads) + "---:|---:|" + "---:|" * len(reads) + "---|---:|---:|---:|")
    status = 0
    for total, _, got in rows:
        rate = total / got["verify"]
        met = rate >= TARGET_EVENTS_PER_S
        status |= 0 if met or total != args.events else 1
        target = (f"≥ {TARGET_EVENTS_PER_S:,}/s {'PASS' if met else 'FAIL'}") if total == args.events else ""
        db_cpu = f"{got['db_cpu']:.3f} s" if vendor == "postgresql" else "(in process)"
        print(f"| {total:,} | " + " | ".join(f"{got['bare'][r]:.3f} s" for r in reads)
              + f" | {got['verify']:.3f} s | {rate:,.0f} | "
              + " | ".join(f"{got['verify'] / got['bare'][r]:.2f}×" for r in reads)
              + f" | {target} | {got['cpu']:.3f} s ({total / got['cpu']:,.0f}) | {db_cpu} "
              f"| {got['rss_before']:.0f} → {got['rss_peak']:.0f} MiB |")
    return status


if __name__ == "__main__":
    sys.exit(main())
