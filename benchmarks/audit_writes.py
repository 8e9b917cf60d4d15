"""Audited writes per second under concurrency: the two cures for the chain-lock deadlock.

docs/architecture.md ("Lock order") chose to never wait for the chain lock inside a transaction
(`audit_record` tries it; a busy chain leaves the event unsealed and `audit_seal` places it after
commit). The alternative was one lock order with the chain lock taken *first* in every audited
transaction. This measures both on PostgreSQL: `--threads` threads, each running `--writes`
transactions shaped like a service — lock and update a row of its own, `--work-ms` of work
inside the transaction (checks, gates, a file read), one `audit_record` — and prints audited
writes/s for each, alternating, best of `--repeats`, and checks the chain afterwards.

Run with `scripts/bench audit_writes [--threads 8] [--writes 100] [--work-ms 2]`.
"""

import argparse
import os
import sys
import threading
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")


def run(mode: str, threads: int, writes: int, work_ms: float) -> float:
    from django.db import connection, transaction

    from audit.services import _chain_lock, audit_record
    from core.models import BackgroundJob

    rows = [BackgroundJob.objects.create(kind="bench").pk for _ in range(threads)]
    barrier = threading.Barrier(threads + 1)
    errors = []

    def worker(row_id):
        barrier.wait()
        try:
            for i in range(writes):
                with transaction.atomic():
                    if mode == "lock first":
                        _chain_lock(wait=True)
                    BackgroundJob.objects.select_for_update().filter(pk=row_id).update(progress=i % 100)
                    time.sleep(work_ms / 1000)
                    audit_record(action="bench.write", object_type="core.backgroundjob", object_id=str(row_id))
        except Exception as exc:  # reported below
            errors.append(repr(exc))
        finally:
            connection.close()

    pool = [threading.Thread(target=worker, args=(r,)) for r in rows]
    for t in pool:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - start
    assert not errors, errors[:3]
    return threads * writes / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--writes", type=int, default=100)
    parser.add_argument("--work-ms", type=float, default=2.0)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    import django

    django.setup()
    from audit.services import audit_seal, audit_unsealed_count
    from audit.verify import audit_chain_verify

    best = {"try, seal after commit": 0.0, "lock first": 0.0}
    for work in (0.0, args.work_ms):
        for _ in range(args.repeats):
            for mode in best:
                rate = run("lock first" if mode == "lock first" else "try", args.threads, args.writes, work)
                best[mode] = max(best[mode], rate)
        print(f"{args.threads} threads × {args.writes} audited transactions, {work:g} ms of work inside each "
              f"(load average {os.getloadavg()[0]:.1f}):")
        for mode, rate in best.items():
            print(f"  {mode:<24} {rate:8.0f} writes/s")
        best = dict.fromkeys(best, 0.0)
    audit_seal()
    report = audit_chain_verify(checkpoints=[])
    print(f"chain: {'intact' if report.ok else 'BROKEN'}, {report.checked} events, {audit_unsealed_count()} unsealed")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
