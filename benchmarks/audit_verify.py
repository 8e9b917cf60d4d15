"""How fast the audit chain is verified, next to a bare read of the same rows.

Issue 8 asks for verification of at least 200,000 events/s with memory that does not grow with
the chain; issue 12 for a verification that no HTTP timeout cuts off. This fills the audit table
of a fresh database with N valid chained events (default 1,000,000; hashes computed with the
documented recipe, written with one COPY), writes a signed checkpoint of the head, then, in a
child process connected as the app's database role (as production runs), times, alternating
and best of `--repeats` each:

- the bare read: the verifier's `SELECT` (the same columns, `ORDER BY seq`) through a
  server-side cursor, rows fetched and dropped;
- `audit_chain_verify()`: seal, walk, hash every event, hold the chain to the checkpoint.

It reports events/s (wall clock, and the verifier's own CPU time, which a shared machine's load
does not inflate), the ratio verification / bare read, and the child's peak RSS, after a walk
over N/10 events and again over N events (same process, table grown in between), so the two
memory figures show whether the verifier grows with the chain.

Run with `scripts/bench audit_verify [--events N] [--repeats R]`.
"""

import argparse
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


def _setup():
    import django

    django.setup()


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def populate(start: int, count: int) -> None:
    """Append `count` valid events after #`start - 1`, hashed with the documented recipe."""
    from django.db import connection

    from audit.models import AuditEvent
    from audit.services import GENESIS_HASH, hash_of

    last = AuditEvent.objects.filter(seq=start - 1).values_list("hash", flat=True).first() if start > 1 else GENESIS_HASH
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    columns = ["seq", "timestamp", "actor_id", "actor_username", "action", "object_type", "object_id",
               "object_repr", "changes", "request_id", "source_ip", "prev_hash", "hash"]
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY audit_auditevent ({', '.join(columns)}) FROM STDIN") as copy:
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
                copy.write_row([seq, stamp, content["actor_id"], content["actor_username"], action, content["object_type"],
                                content["object_id"], content["object_repr"], json.dumps(content["changes"]),
                                content["request_id"], content["source_ip"], last, digest])
                last = digest
        cursor.execute("VACUUM ANALYZE audit_auditevent")


def bare_read() -> tuple[float, int]:
    from django.db import connection, transaction

    from audit.services import _ROW

    start = time.perf_counter()
    rows = 0
    with transaction.atomic(), connection.chunked_cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(_ROW)} FROM audit_auditevent WHERE seq IS NOT NULL ORDER BY seq")
        while chunk := cursor.fetchmany(10_000):
            rows += len(chunk)
    return time.perf_counter() - start, rows


def worker(repeats: int) -> None:
    """Child process (the app's role): time the bare read and the verification, alternating."""
    _setup()
    from audit.services import audit_chain_verify

    bare_read()  # warm-up: the table's pages in cache
    before = _rss_mib()
    bare, verify, cpu, report = [], [], [], None
    for _ in range(repeats):
        bare.append(bare_read()[0])
        start, start_cpu = time.perf_counter(), time.process_time()
        report = audit_chain_verify()
        verify.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    print(json.dumps({
        "bare": min(bare), "verify": min(verify), "cpu": min(cpu), "ok": report.ok, "checked": report.checked,
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
    from audit.checkpoints import checkpoint_write

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

    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print("| events | bare read | verify | events/s | ratio | target | verifier CPU (events/s) | verifier RSS before → peak |")
    print("|---:|---:|---:|---:|---:|---|---:|---:|")
    status = 0
    for total, _, got in rows:
        rate = total / got["verify"]
        met = rate >= TARGET_EVENTS_PER_S
        status |= 0 if met or total != args.events else 1
        target = (f"≥ {TARGET_EVENTS_PER_S:,}/s {'PASS' if met else 'FAIL'}") if total == args.events else ""
        print(f"| {total:,} | {got['bare']:.3f} s | {got['verify']:.3f} s | {rate:,.0f} | {got['verify'] / got['bare']:.2f}× "
              f"| {target} | {got['cpu']:.3f} s ({total / got['cpu']:,.0f}) | {got['rss_before']:.0f} → {got['rss_peak']:.0f} MiB |")
    return status


if __name__ == "__main__":
    sys.exit(main())
