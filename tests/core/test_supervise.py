"""scripts/supervise.py (what `scripts/run` starts web, worker and beat under), with real processes."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

SUPERVISE = Path(__file__).resolve().parents[2] / "scripts" / "supervise.py"


@pytest.fixture
def supervise(tmp_path):
    started = []

    def start(*spec, pause=0.1):
        out = tmp_path / "supervise.out"
        proc = subprocess.Popen(
            [sys.executable, str(SUPERVISE), "--logs", str(tmp_path / "log"), "--grace", "5",
             "--pause", str(pause), *spec],
            stdout=out.open("w"), stderr=subprocess.STDOUT,
        )
        proc.out = out
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _pids(out: Path, name: str) -> list[int]:
    """Pids the supervisor reported for `name`, in order ("started (pid N" / "restarted (pid N")."""
    pids = []
    for line in out.read_text().splitlines():
        if line.startswith(f"==> {name} ") and "(pid " in line:
            pids.append(int(line.split("(pid ")[1].split(",")[0].rstrip(")")))
    return pids


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped) counts as dead.
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def test_a_killed_process_is_restarted_and_ctrl_c_stops_all(supervise, wait_for):
    proc = supervise("worker", "--", "sleep", "300", "::", "beat", "--", "sleep", "300")
    worker, beat = wait_for(lambda: _pids(proc.out, "worker") and _pids(proc.out, "beat") and
                            (_pids(proc.out, "worker")[0], _pids(proc.out, "beat")[0]))
    os.kill(worker, signal.SIGKILL)
    pids = wait_for(lambda: len(_pids(proc.out, "worker")) == 2 and _pids(proc.out, "worker"))
    assert "worker killed by SIGKILL; restarting" in proc.out.read_text()
    restarted = pids[1]
    assert restarted != worker and _alive(restarted) and _alive(beat)

    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 0
    assert not _alive(restarted) and not _alive(beat)
    assert proc.out.read_text().rstrip().endswith("==> stopped")


def test_a_process_that_keeps_dying_at_start_stops_everything(supervise):
    proc = supervise("beat", "--", "false", "::", "web", "--", "sleep", "300")
    assert proc.wait(timeout=60) == 1
    out = proc.out.read_text()
    assert "beat died 5 times within 10 s of starting (exit status 1); stopping everything" in out
    web = _pids(proc.out, "web")[0]
    assert not _alive(web)
