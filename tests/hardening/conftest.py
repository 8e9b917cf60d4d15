"""Hardening tests: the fuzz figures are printed at the end of the run and written to
`$STEWARD_TEST_ARTIFACTS/fuzz-<database>.json` (default test-artifacts/)."""

import json
import os
from collections import Counter
from pathlib import Path

FUZZ = {"cases": 0, "operations": set(), "status": Counter(), "server_errors": 0, "violations": 0,
        "failing": [], "known": Counter()}


def fuzz_record(*, operation, role, status, failures, known=False):
    """Count one fuzz case. Cases of operations with a known failure (KNOWN in test_fuzz.py,
    fixed on another branch) are counted apart, so the figures say what this branch does."""
    FUZZ["cases"] += 1
    FUZZ["operations"].add(operation)
    FUZZ["status"][status] += 1
    if known:
        FUZZ["known"]["cases"] += 1
        FUZZ["known"]["server_errors"] += status >= 500
        FUZZ["known"]["violations"] += bool(failures)
        return
    if status >= 500:
        FUZZ["server_errors"] += 1
    if failures:
        FUZZ["violations"] += 1
        FUZZ["failing"].append(f"{operation} as {role}")


def pytest_terminal_summary(terminalreporter):
    if not FUZZ["cases"]:
        return
    from django.db import connection

    vendor = connection.vendor
    summary = {
        "database": vendor,
        "operations": len(FUZZ["operations"]),
        "cases": FUZZ["cases"],
        "server_errors": FUZZ["server_errors"],
        "cases_with_violations": FUZZ["violations"],
        "status_codes": dict(sorted(FUZZ["status"].items())),
        "failing": sorted(set(FUZZ["failing"])),
        "known_failures_elsewhere": dict(FUZZ["known"]),
    }
    out = Path(os.environ.get("STEWARD_TEST_ARTIFACTS", "test-artifacts"))
    out.mkdir(parents=True, exist_ok=True)
    (out / f"fuzz-{vendor}.json").write_text(json.dumps(summary, indent=2) + "\n")
    terminalreporter.write_sep("=", "schemathesis fuzz figures")
    terminalreporter.write_line(
        f"{vendor}: {summary['operations']} operations, {summary['cases']} cases, "
        f"{summary['server_errors']} 5xx, {summary['cases_with_violations']} with schema violations; "
        f"statuses {summary['status_codes']}"
    )
    if FUZZ["known"]:
        terminalreporter.write_line(f"  not counted above (KNOWN, fixed on another branch): {dict(FUZZ['known'])}")


def pytest_collection_modifyitems(config, items):
    """`@pytest.mark.postgres` tests skip on SQLite (the embedded default)."""
    import pytest
    from django.conf import settings

    if settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (run via scripts/test)")
    for item in items:
        if "postgres" in item.keywords and "hardening" in str(item.fspath):
            item.add_marker(skip)
