"""Run a few long-lived processes, restart any that dies, stop them all together.

    python scripts/supervise.py --logs var/log web -- gunicorn … :: worker -- celery … :: beat -- …

Used by `scripts/run`: web, worker and beat each get their own process group and log file
(`<logs>/<name>.log`). When one exits (a crash, an OOM kill, `kill -9`), what is left of its group
(a dead worker's pool children) is killed and the process is started again after a short pause
(`--pause`, 1 s, doubling up to 30 s while it keeps dying young). A process that dies five times in a row
within 10 s of starting is broken, not unlucky: everything is stopped with a message naming it.
SIGINT/SIGTERM stop all processes: SIGTERM to each main process first (warm shutdown: a worker
finishes its task), SIGKILL to each group for what is still there after `--grace` seconds.
Standard library only.
"""

import argparse
import os
import signal
import subprocess
import sys
import time

YOUNG = 10.0  # seconds: dying sooner than this after a start counts as a failed start
MAX_YOUNG_DEATHS = 5


def say(message: str) -> None:
    print(f"==> {message}", flush=True)


class Child:
    def __init__(self, name: str, argv: list[str], log_dir: str):
        self.name, self.argv = name, argv
        self.log_path = os.path.join(log_dir, f"{name}.log")
        self.proc: subprocess.Popen | None = None
        self.started = 0.0
        self.young_deaths = 0
        self.restart_at = 0.0
        self.restarts = 0

    def start(self) -> None:
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child owns it; closed below
        try:
            self.proc = subprocess.Popen(
                self.argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group: we signal the group
            )
        finally:
            log.close()
        self.started = time.monotonic()

    def signal_group(self, sig: int) -> None:
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


def parse(argv: list[str]) -> tuple[argparse.Namespace, list[tuple[str, list[str]]]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logs", default="var/log")
    parser.add_argument("--grace", type=float, default=20.0)
    parser.add_argument("--pause", type=float, default=1.0, help="first pause before a restart")
    parser.add_argument("spec", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    specs, current = [], []
    for token in args.spec + ["::"]:
        if token == "::":
            if current:
                if len(current) < 3 or current[1] != "--":
                    parser.error(f"expected NAME -- COMMAND…, got {' '.join(current)}")
                specs.append((current[0], current[2:]))
            current = []
        else:
            current.append(token)
    if not specs:
        parser.error("nothing to run")
    return args, specs


def describe(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


def main(argv: list[str]) -> int:
    args, specs = parse(argv)
    os.makedirs(args.logs, exist_ok=True)
    children = [Child(name, command, args.logs) for name, command in specs]
    stopping = {"why": None}

    def on_signal(signum, _frame):
        stopping["why"] = signal.Signals(signum).name

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    for child in children:
        child.start()
        say(f"{child.name} started (pid {child.proc.pid}, log {child.log_path})")
    status = 0
    while stopping["why"] is None:
        time.sleep(0.5)
        now = time.monotonic()
        for child in children:
            if child.proc is None:  # waiting to be restarted
                if now >= child.restart_at:
                    child.start()
                    child.restarts += 1
                    say(f"{child.name} restarted (pid {child.proc.pid}, restart {child.restarts})")
                continue
            code = child.proc.poll()
            if code is None:
                if now - child.started > YOUNG:
                    child.young_deaths = 0
                continue
            child.signal_group(signal.SIGKILL)  # leftovers of the dead process (pool children)
            child.young_deaths = child.young_deaths + 1 if now - child.started < YOUNG else 0
            if child.young_deaths >= MAX_YOUNG_DEATHS:
                say(f"{child.name} died {MAX_YOUNG_DEATHS} times within {YOUNG:.0f} s of starting "
                    f"({describe(code)}); stopping everything. See {child.log_path}.")
                stopping["why"] = f"{child.name} keeps dying"
                status = 1
                break
            pause = min(30.0, args.pause * 2.0 ** max(0, child.young_deaths - 1))
            say(f"{child.name} {describe(code)}; restarting in {pause:.1f} s (log {child.log_path})")
            child.proc, child.restart_at = None, now + pause

    say(f"stopping ({stopping['why']})")
    for child in children:
        if child.alive():  # the main process only: it shuts its own children down warmly
            child.proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + args.grace
    while any(child.alive() for child in children) and time.monotonic() < deadline:
        time.sleep(0.2)
    for child in children:
        if child.alive():
            say(f"{child.name} did not stop within {args.grace:.0f} s; killing it")
        child.signal_group(signal.SIGKILL)  # the group too: nothing of ours outlives us
        if child.proc is not None:
            child.proc.wait()
    say("stopped")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
