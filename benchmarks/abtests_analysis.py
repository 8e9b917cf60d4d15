"""How much an A/B analysis costs next to the bare per-arm aggregate over the same events.

Issue 5 asks that the analysis read only aggregates computed in PostgreSQL, so that it costs at
most 1.5× a bare `GROUP BY arm_id` over the experiment's events and the worker's memory does not
grow with the experiment. This builds a started Welch t-test experiment through the services,
writes the events straight into PostgreSQL, then times, warm and best of 3 each (alternating, so
both see the same cache and the same load from whatever else the machine runs):

- the bare aggregate `SELECT arm_id, count(*), sum(value), sum(value*value) … GROUP BY arm_id`;
- the analysis exactly as the Celery worker runs it (`analysis_run_task(job_id)`, on a job queued
  by `analysis_request`), in a child process so its peak RSS is the worker's alone (the bare
  aggregate it also runs there returns two rows).

It does this at N/10 events and again at N (the table grown to N), so the memory column shows
whether the worker grows with the experiment; then once more at N with the protocol's test set
to Mann–Whitney U (informational: ranking groups by value, which costs more than a GROUP BY arm
when values are many).

Run with `scripts/bench [--events N]`, which starts a throwaway PostgreSQL and migrates it.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

TARGET = 1.5


def _setup():
    import django

    django.setup()


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def worker(experiment_id: int, job_ids: list[int]) -> None:
    """Child process: run the queued analyses as the worker does, each right after a run of the
    bare aggregate on the same connection, so both see the same cache and the same load from
    whatever else the machine is doing. Prints timings and peak RSS as JSON."""
    _setup()
    from abtests.models import Analysis
    from abtests.tasks import analysis_run_task

    # Warm-up, untimed: the table's pages in cache, and the worker's first-task costs (imports,
    # `git rev-parse` for the code version; about a second) paid, as for a worker in service.
    bare_aggregate(experiment_id)
    before = _rss_mib()
    analysis_run_task(job_ids[0])
    bare, seconds = [], []
    for job_id in job_ids[1:]:
        bare.append(bare_aggregate(experiment_id))
        start = time.perf_counter()
        analysis_run_task(job_id)  # the task body, run in this process
        seconds.append(time.perf_counter() - start)
    statuses = list(Analysis.objects.filter(job_id__in=job_ids).values_list("status", flat=True))
    print(json.dumps({"bare": bare, "seconds": seconds, "statuses": statuses, "rss_before": before, "rss_peak": _rss_mib()}))


def build(n_events: int):
    """Users, model, two versions and a started A/B experiment, all through the services."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from abtests import lifecycle
    from core.roles import Role
    from registry import services as registry

    dana = get_user_model().objects.create_user("dana", "dana@example.com")
    dana.groups.add(Group.objects.get_or_create(name=Role.DATA_SCIENTIST)[0])
    use_case = registry.use_case_create(actor=dana, name="Checkout", purpose="Basket revenue")
    model = registry.model_create(actor=dana, name="ranker", use_case=use_case)
    champion, challenger = (
        registry.model_version_register(actor=dana, model=model, artifact_uri=f"s3://models/ranker/{i}", sha256=f"{i:064x}")
        for i in (1, 2)
    )
    exp = lifecycle.experiment_create(
        actor=dana, model=model, champion=champion, challengers=[challenger], name="ranker v2 vs v1",
        kind="ab", metric_name="revenue", metric_type="continuous", baseline=10.0, sd=1.0, mde=0.1,
        test="welch_t", daily_units=float(n_events),
    )
    return dana, lifecycle.experiment_start(actor=dana, experiment=exp)


def _drop_indexes(cursor, table: str) -> list[str]:
    """Drop the table's unique constraints and secondary indexes; return the SQL that remakes them."""
    cursor.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'u'",
        [table],
    )
    constraints = cursor.fetchall()
    cursor.execute(
        "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index i WHERE indrelid = %s::regclass"
        " AND NOT indisprimary AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)",
        [table],
    )
    indexes = cursor.fetchall()
    for name, _ in constraints:
        cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
    for name, _ in indexes:
        cursor.execute(f"DROP INDEX {name}")
    return [f"ALTER TABLE {table} ADD CONSTRAINT {name} {sql}" for name, sql in constraints] + [sql for _, sql in indexes]


def generate(exp, first: int, last: int) -> None:
    """Events `first`..`last` in one INSERT … SELECT, then VACUUM ANALYZE.

    The benchmark bypasses `events_ingest` on purpose: it measures analysis, not ingest. The rows
    look like ingested ones: one batch, unique event ids, alternating arms, revenue in cents
    (normal, mean 10, sd 1; the treatment 0.01 higher), one value in a thousand missing. To write
    10M rows in about a minute rather than several, the insert skips the foreign-key triggers
    (the ids are right by construction) and the indexes are rebuilt afterwards in one sort each
    instead of being updated row by row. VACUUM sets the visibility map as autovacuum would on a
    real table, so index-only scans work.
    """
    from django.db import connection, transaction

    from abtests.models import Event, EventBatch

    table = Event._meta.db_table
    control, treatment = exp.arms.order_by("position")
    batch, _ = EventBatch.objects.get_or_create(experiment=exp, sha256="0" * 64, defaults={"content_type": "text/csv"})
    with transaction.atomic(), connection.cursor() as cursor:
        remake = _drop_indexes(cursor, table)
        cursor.execute("SET LOCAL session_replication_role = replica")  # no FK triggers
        cursor.execute(
            f"""
            INSERT INTO {table} (experiment_id, arm_id, batch_id, unit_id, event_id, value, timestamp)
            SELECT %s, CASE WHEN mod(g, 2) = 0 THEN %s ELSE %s END, %s, 'u' || g, 'e' || g,
                   CASE WHEN mod(g, 1000) = 0 THEN NULL
                        ELSE round((10 + 0.01 * mod(g, 2)
                                    + sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()))::numeric, 2)::float8
                   END,
                   now() - mod(g, 86400) * interval '1 second'
            FROM generate_series(%s, %s) AS g
            """,
            [exp.pk, control.pk, treatment.pk, batch.pk, first, last],
        )
        cursor.execute("SET LOCAL session_replication_role = DEFAULT")
        cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
        for sql in remake:
            cursor.execute(sql)
    EventBatch.objects.filter(pk=batch.pk).update(rows=last, stored=last)
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM ANALYZE {table}")


def plan_horizon(exp, events: int) -> None:
    """Set the planned horizon to `events` (two equal arms), so an analysis at that many events is
    at its horizon and reads them all. The protocol is locked after start; the benchmark changes
    the row directly rather than designing a new experiment per size."""
    from abtests.models import Experiment

    Experiment.objects.filter(pk=exp.pk).update(n_per_arm=events // 2, total_n=2 * (events // 2))
    exp.refresh_from_db()


def bare_aggregate(experiment_id: int) -> float:
    """Seconds for the bare per-arm aggregate over the experiment's events."""
    from django.db import connection

    from abtests.models import Event

    sql = (
        f"SELECT arm_id, count(*), sum(value), sum(value * value) FROM {Event._meta.db_table} "
        f"WHERE experiment_id = %s GROUP BY arm_id"
    )
    with connection.cursor() as cursor:
        start = time.perf_counter()
        cursor.execute(sql, [experiment_id])
        cursor.fetchall()
        return time.perf_counter() - start


def analysis(actor, exp, repeats: int) -> dict:
    """Queue 1 + `repeats` analyses as the API does; run them in a child process like a worker."""
    from abtests.analyses import analysis_request

    jobs = [analysis_request(actor=actor, experiment=exp).job_id for _ in range(1 + repeats)]
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.abtests_analysis", "--worker", str(exp.pk), *map(str, jobs)],
        capture_output=True, text=True, check=True,
    )
    got = json.loads(out.stdout.strip().splitlines()[-1])
    if set(got["statuses"]) != {"completed"}:
        # `interim` means the planned sample size (about 3,200 events) is not reached yet.
        raise SystemExit(f"analysis did not complete: {got['statuses']} (try more --events)")
    return got


def _seconds(values) -> str:
    return " ".join(f"{v:.3f}" for v in values)


def measure(label: str, actor, exp, events: int, repeats: int) -> dict:
    run = analysis(actor, exp, repeats)
    bare = min(run["bare"])
    row = {"label": label, "events": events, "bare": bare, "analysis": min(run["seconds"]),
           "rss_before": run["rss_before"], "rss_peak": run["rss_peak"]}
    row["ratio"] = row["analysis"] / row["bare"]
    print(f"  {label:<22} {events:>12,} events: bare {bare:.3f} s, analysis {row['analysis']:.3f} s, "
          f"ratio {row['ratio']:.2f}, worker peak {row['rss_peak']:.0f} MiB "
          f"(runs: bare {_seconds(run['bare'])}; analysis {_seconds(run['seconds'])})", flush=True)
    return row


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each; the best counts")
    parser.add_argument("--worker", nargs="+", type=int, metavar="ID", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker[0], args.worker[1:])
        return 0

    _setup()
    from abtests.models import Experiment

    n, small = args.events, max(args.events // 10, 1)
    actor, exp = build(n)
    rows = []
    for count, first in ((small, 1), (n, small + 1)):
        start = time.perf_counter()
        generate(exp, first, count)
        print(f"==> {count:,} events in PostgreSQL ({time.perf_counter() - start:.1f} s to generate)", flush=True)
        plan_horizon(exp, count)
        rows.append(measure("Welch t (standard)", actor, exp, count, args.repeats))
    # Re-analysis past the horizon (informational): the verdict reads the first tenth of the
    # events; the analysis reads all of them for data quality, finds each arm's last planned event
    # through the (experiment, arm, timestamp, id) index, and reads the planned window again.
    plan_horizon(exp, small)
    rows.append(measure("Welch t, past horizon", actor, exp, n, args.repeats))
    plan_horizon(exp, n)
    # The same events under the rank test. The protocol is locked after start; the benchmark
    # changes the row directly so it need not generate the table a second time.
    Experiment.objects.filter(pk=exp.pk).update(test=Experiment.Test.MANN_WHITNEY_U)
    exp.refresh_from_db()
    rows.append(measure("Mann–Whitney U (info)", actor, exp, n, args.repeats))

    small_row, standard, past, rank = rows
    past.update(target="info", verdict="")
    verdict = "PASS" if standard["ratio"] <= TARGET else "FAIL"
    small_row.update(target="", verdict="")
    standard.update(target=f"≤ {TARGET}×", verdict=verdict)
    rank.update(target="info", verdict="")
    print(f"\n{'test':<22} {'events':>12} {'bare s':>7} {'analysis s':>10} {'ratio':>6} {'target':>7} {'':>4} "
          f"{'worker peak MiB':>15}")
    for row in rows:
        print(f"{row['label']:<22} {row['events']:>12,} {row['bare']:>7.3f} {row['analysis']:>10.3f} "
              f"{row['ratio']:>5.2f}× {row['target']:>7} {row['verdict']:>4} {row['rss_peak']:>15.0f}")
    print(f"\nworker memory: peak {small_row['rss_peak']:.0f} MiB at {small_row['events']:,} events, "
          f"{standard['rss_peak']:.0f} MiB at {standard['events']:,} events "
          f"({standard['rss_before']:.0f} MiB after start-up, before any analysis)")
    return 0 if verdict == "PASS" else 1

if __name__ == "__main__":
    sys.exit(main())
