#!/usr/bin/python3
"""A scripted agent session: COMMANDS commands, each a new process, through the Coder CLI stand-in.

    python3 bench/shared_session.py [--trials N] [--delay-ms D] [--commands N]   (bash bench/shared_session builds, then runs this)

Each command is a process of its own, as an agent that shells out runs it, against one workspace
served by the stand-in Coder CLI (tests/fixtures/coder/coder), whose `ssh --stdio` runs
bench/delay_relay.py in front of the Go x/crypto/ssh server (the Coder agent's library): the
relay delays each direction by D ms (a trial at D and one at 0 give the round trips). Four ways,
interleaved per trial so that load drift hits them alike:

  - coder-runtime, shared: `coder-runtime exec ws -- CMD`, ControlMaster=auto (the default): the
    first exec starts the connection holder, the rest run on its connection. Each trial has a fresh
    XDG_RUNTIME_DIR; it ends with `coder-runtime connections stop` and waits for the holder to exit.
  - coder-runtime, own connection: the same with `-o ControlMaster=no`.
  - OpenSSH, ControlMaster: `ssh` with ControlMaster=auto, ControlPersist=60, ControlPath in the
    trial's folder and the ProxyCommand `coder config-ssh` writes; ends with `ssh -O exit`.
  - OpenSSH, no ControlMaster: a connection per command.

Beside them, per trial and delay, what no way can avoid: a process that does nothing, and `true` on
a warm connection held in one process (bench/coder_runtime_client.cpp on the same route): the round
trip with the agent starting the command.

Per way and delay: the first command (cold) and the others (warm: median, p90), `coder` processes
started (lines in the stand-in's calls.log), and round trips ((median at D - median at 0) / 2D, as
bench/suite.py counts them). Writes DIR/shared-session.md, .json and, with matplotlib, .png.
Not a test: nothing passes or fails. Stops itself after --max-minutes and ends every process it
started.
"""
import argparse
import datetime
import json
import os
import pathlib
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from suite import (BENCH, ROOT, PeerFailed, all_processes, fmt, machine_description, measure_process, ratio,  # noqa: E402
                   read_cmdline, rotated, running, stop_and_wait)

STANDIN = ROOT / "tests" / "fixtures" / "coder" / "coder"
SUFFIX = "mux--coder"
HOST = f"ws.{SUFFIX}"
SHARED, OWN, SSH_MASTER, SSH_PLAIN = ("coder-runtime, shared (ControlMaster=auto)", "coder-runtime, ControlMaster=no",
                                      "OpenSSH, ControlMaster=auto", "OpenSSH, no ControlMaster")
WAYS = (SHARED, OWN, SSH_MASTER, SSH_PLAIN)
OUTPUT_COMMAND = "ls /"  # a little output (about 100 bytes)


def script(n):
    """The session: `true`, then a command with a little output, in turn."""
    return ["true" if i % 2 == 0 else OUTPUT_COMMAND for i in range(n)]


def in_process_floor(delay):
    return f"in-process warm exec at {delay:g} ms"


def p90(values):
    return statistics.quantiles(values, n=10, method="inclusive")[-1] if len(values) > 1 else values[0]


def processes_mentioning(text):
    """Live processes whose argv or environment mentions text (our work folder): what a trial left."""
    found = []
    for pid in all_processes():
        if pid == os.getpid():
            continue
        try:
            environ = pathlib.Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            environ = b""
        if (text.encode() in read_cmdline(pid) or text.encode() in environ) and running(pid):
            found.append(pid)
    return found


class Bench:
    def __init__(self, args, work, log):
        self.args, self.work, self.log = args, work, log
        build = pathlib.Path(args.build)
        self.ours = build / "coder-runtime"
        self.in_process = build / "bench" / "coder_runtime_client"
        go_sshd = build / "tests" / "go_sshd"
        for needed in (self.ours, self.in_process, go_sshd):
            if not needed.exists():
                raise SystemExit(f"{needed} is missing: run bash bench/shared_session, which builds it")
        self.commands = script(args.commands)
        self.expected = {command: subprocess.run(["/bin/sh", "-c", command], capture_output=True).stdout
                         for command in set(self.commands)}
        # The agent's host key is fixed per workspace: no RSA key generation inside the timing.
        subprocess.run(["ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-m", "PEM", "-N", "", "-f",
                        str(work / "go_host")], check=True)
        # `coder` on PATH is the stand-in (its shebang /usr/bin/python3: no pyenv shim per call).
        (work / "bin").mkdir()
        (work / "bin" / "coder").symlink_to(STANDIN)
        self.coder = work / "bin" / "coder"
        # What `coder ssh --stdio` execs: the relay in front of the agent, per delay.
        self.agents = {}
        for delay in (0, args.delay_ms):
            agent = work / f"agent-{delay:g}"
            agent.write_text("#!/bin/sh\n" + shlex.join(["exec", "/usr/bin/python3", str(BENCH / "delay_relay.py"),
                                                         f"{delay:g}", str(go_sshd), "-hostkey",
                                                         str(work / "go_host")]) + f" 2>>{shlex.quote(log.name)}\n")
            agent.chmod(0o755)
            self.agents[delay] = agent
        # As `coder config-ssh` writes the block (the CLI's path quoted), with a throwaway known hosts.
        self.ssh_config = work / "ssh_config"
        self.ssh_config.write_text(
            f"Host *.{SUFFIX}\n"
            f"  ProxyCommand \"{self.coder}\" ssh --stdio --hostname-suffix {SUFFIX} %h\n"
            "  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n  BatchMode yes\n  LogLevel ERROR\n"
            "  IdentityAgent none\n  IdentitiesOnly yes\n  User coder\n")
        os.environ["PATH"] = f"{work / 'bin'}:{os.environ['PATH']}"
        os.environ["XDG_CACHE_HOME"] = str(work / "cache")  # coder-runtime's remembered choices: the run's own
        self.samples = {}  # (way, delay) -> {"cold_ms": [], "warm_ms": [], "warm_true_ms": [], ...}
        self.failures = []
        self.floors = {}  # name -> walls (ms) of processes that do nothing
        self.trial_number = 0

    def argv(self, way, trial, command):
        if way in (SHARED, OWN):
            control = ["-o", "ControlMaster=no"] if way == OWN else []
            return [str(self.ours), "exec"] + control + ["ws", "--", command]
        ssh = ["ssh", "-F", str(self.ssh_config)]
        if way == SSH_MASTER:
            ssh += ["-o", "ControlMaster=auto", "-o", "ControlPersist=60", "-o", f"ControlPath={trial / 'cm'}"]
        return ssh + [HOST, command]

    def session(self, way, delay):
        """One scripted session in a fresh state folder; its per-command walls and `coder` calls."""
        self.trial_number += 1
        trial = self.work / f"trial-{self.trial_number}"
        (trial / "state").mkdir(parents=True)
        (trial / "run").mkdir(mode=0o700)
        (trial / "state" / "scenario.json").write_text(json.dumps(
            {"workspaces": [{"name": "ws", "owner": "tester"}], "username": "tester", "go_sshd": str(self.agents[delay])}))
        calls = trial / "state" / "calls.log"
        os.environ["CODER_STANDIN_STATE"] = str(trial / "state")
        os.environ["XDG_RUNTIME_DIR"] = str(trial / "run")
        walls, coder_calls = [], []
        try:
            for command in self.commands:
                before = len(calls.read_text().splitlines()) if calls.exists() else 0
                outcome = measure_process(self.argv(way, trial, command), timeout=60)
                if outcome.output != self.expected[command]:
                    raise PeerFailed(f"{command!r} printed {outcome.output[:200]!r}, not {self.expected[command][:200]!r}")
                walls.append(outcome.wall * 1000)
                coder_calls.append(len(calls.read_text().splitlines()) - before)
        finally:
            self.end_session(way, trial)
        return walls, coder_calls, calls.read_text() if calls.exists() else ""

    def end_session(self, way, trial):
        """Ends what the session left running (the holder, the ssh master) and waits until it is gone."""
        if way == SHARED:
            holders = [pid for pid in all_processes()
                       if b"connections\0holder\0" in read_cmdline(pid) and str(trial / "run").encode() in read_cmdline(pid)]
            subprocess.run([str(self.ours), "connections", "stop"], capture_output=True, timeout=60)
            self.wait_gone(holders, "the connection holder")
        elif way == SSH_MASTER:
            master = ["ssh", "-F", str(self.ssh_config), "-o", f"ControlPath={trial / 'cm'}"]
            checked = subprocess.run(master + ["-O", "check", HOST], capture_output=True, text=True, timeout=30)
            pids = [int(pid) for pid in re.findall(r"pid=(\d+)", checked.stderr)]
            subprocess.run(master + ["-O", "exit", HOST], capture_output=True, timeout=30)
            self.wait_gone(pids, "the ssh master")
        # Whatever else still runs with this trial's folder in its argv or environment: the tunnel,
        # the relay, the agent (they end once their client has gone; give them a moment).
        self.wait_gone(processes_mentioning(f"{trial}/"), f"processes of {trial.name}", patience=5)

    def wait_gone(self, pids, what, patience=10):
        deadline = time.monotonic() + patience
        while any(map(running, pids)) and time.monotonic() < deadline:
            time.sleep(0.01)
        left = [pid for pid in pids if running(pid)]
        if left:
            self.failures.append(f"{what} still ran {patience} s after the session (pids {left}): stopped")
            stop_and_wait(left)

    def floor(self, delay):
        """What no way can avoid, measured here right now with the ways: starting a process (/bin/true,
        and coder-runtime doing nothing but parse its arguments), and the round trip with the agent
        running the command: `true` on a warm connection in one process (the library's
        coder_runtime_client, Coder profile, on the same route)."""
        for _ in range(5):
            for name, argv in (("/bin/true", ["/bin/true"]), ("coder-runtime exec --help", [str(self.ours), "exec", "--help"])):
                self.floors.setdefault(name, []).append(measure_process(argv, timeout=60).wall * 1000)
        client = [str(self.in_process), "--proxy", str(self.agents[delay]), "--user", "coder", "--profile", "coder", "warm", "10"]
        try:
            walls = json.loads(measure_process(client, timeout=60).output)["wall_us"]
        except (PeerFailed, ValueError, KeyError) as failure:
            self.failures.append(f"the in-process warm exec at {delay:g} ms: {failure}")
            return
        self.floors.setdefault(in_process_floor(delay), []).extend(wall / 1000 for wall in walls)

    def run(self, deadline):
        delays = (0, self.args.delay_ms)
        for trial in range(self.args.trials):
            for delay in delays:
                self.floor(delay)
                for way in rotated(list(WAYS), trial):
                    if time.monotonic() > deadline:
                        self.failures.append(f"stopped after {self.args.max_minutes:g} minutes, in trial {trial + 1}")
                        return
                    print(f"bench: trial {trial + 1}/{self.args.trials}, {delay:g} ms, {way}", file=sys.stderr)
                    try:
                        walls, coder_calls, calls = self.session(way, delay)
                    except (PeerFailed, subprocess.TimeoutExpired) as failure:
                        self.failures.append(f"{way} at {delay:g} ms: {failure}")
                        continue
                    row = self.samples.setdefault((way, delay), {})
                    row.setdefault("cold_ms", []).append(walls[0])
                    row.setdefault("warm_ms", []).extend(walls[1:])
                    for command, wall in zip(self.commands[1:], walls[1:]):
                        row.setdefault(f"warm {command}", []).append(wall)
                    row.setdefault("coder_cold", []).append(coder_calls[0])
                    row.setdefault("coder_session", []).append(sum(coder_calls))
                    row.setdefault("calls_log", []).append(calls)


def stat(row, key, how=statistics.median):
    values = row.get(key) if row else None
    return how(values) if values else None


def round_trips(bench, way, key):
    at_zero, delayed = stat(bench.samples.get((way, 0)), key), stat(bench.samples.get((way, bench.args.delay_ms)), key)
    return None if at_zero is None or delayed is None else (delayed - at_zero) / (2 * bench.args.delay_ms)


def report(bench, command, started, load_before, elapsed):
    args = bench.args
    load_after = os.getloadavg()
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    n = args.commands
    lines = [
        "# A scripted agent session through the Coder CLI stand-in", "",
        f"- Command: `{command}` ({elapsed / 60:.1f} min, {started:%Y-%m-%d %H:%M} UTC, coder-runtime {commit})",
        f"- Machine: {machine_description()}; load average {load_before[0]:.2f} before, {load_after[0]:.2f} after",
        f"- Session: {n} commands, each a new process (`true` and `{OUTPUT_COMMAND}` in turn); {args.trials} trials per "
        f"way and delay, interleaved. Cold: the first command (median over trials); warm: the other {n - 1} of each "
        f"trial ({(n - 1) * args.trials} samples). The agent: go_sshd behind bench/delay_relay.py at 0 and "
        f"{args.delay_ms:g} ms one way, run by the stand-in's `coder ssh --stdio`.",
        f"- Round trips: (median at {args.delay_ms:g} ms - median at 0) / {2 * args.delay_ms:g} ms. `coder` processes: "
        "lines in the stand-in's calls.log, the holder's included.",
        "- Process floor, measured with the ways: " + "; ".join(f"`{name}` {fmt(statistics.median(walls))} ms"
                                                                for name, walls in bench.floors.items()) +
        " (median wall of a process that does nothing else).", "",
        f"| way | delay (ms) | cold (ms) | warm median (ms) | warm p90 (ms) | warm `true` (ms) | warm `{OUTPUT_COMMAND}` (ms) "
        f"| warm vs shared | `coder` processes, cold command | `coder` processes, {n} commands |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for delay in (0, args.delay_ms):
        reference = stat(bench.samples.get((SHARED, delay)), "warm_ms")
        for way in WAYS:
            row = bench.samples.get((way, delay))
            if not row:
                continue
            warm = stat(row, "warm_ms")
            lines.append(f"| {way} | {delay:g} | {fmt(stat(row, 'cold_ms'))} | {fmt(warm)} | {fmt(stat(row, 'warm_ms', p90))} | "
                         f"{fmt(stat(row, 'warm true'))} | {fmt(stat(row, 'warm ' + OUTPUT_COMMAND))} | {ratio(warm, reference)} | "
                         f"{fmt(stat(row, 'coder_cold'), 0)} | {fmt(stat(row, 'coder_session'), 0)} |")
    lines += ["", "| way | round trips, cold command | round trips, warm command |", "| --- | ---: | ---: |"]
    for way in WAYS:
        lines.append(f"| {way} | {fmt(round_trips(bench, way, 'cold_ms'))} | {fmt(round_trips(bench, way, 'warm_ms'))} |")
    shared0 = bench.samples.get((SHARED, 0))
    shared_d = bench.samples.get((SHARED, args.delay_ms))
    master0 = bench.samples.get((SSH_MASTER, 0))
    if shared0 and shared_d:
        floor0, floor_d = (bench.floors.get(in_process_floor(delay)) for delay in (0, args.delay_ms))
        lines += ["", "Targets (reported, not asserted):",
                  f"- a warm exec process at most 1 round trip + 5 ms: at 0 ms {fmt(stat(shared0, 'warm_ms'))} ms; at "
                  f"{args.delay_ms:g} ms {fmt(stat(shared_d, 'warm_ms'))} ms against {fmt(2 * args.delay_ms + 5)} ms "
                  f"({fmt(round_trips(bench, SHARED, 'warm_ms'))} round trips)",
                  f"- the same less the in-process warm exec on the same route (the round trip, with the agent "
                  f"starting `true`): warm `true` {fmt(difference(stat(shared0, 'warm true'), floor0))} ms at 0 ms, "
                  f"{fmt(difference(stat(shared_d, 'warm true'), floor_d))} ms at {args.delay_ms:g} ms, against 5 ms",
                  f"- faster than OpenSSH's ControlMaster: {ratio(stat(master0, 'warm_ms'), stat(shared0, 'warm_ms'))}x "
                  "(OpenSSH's warm median / ours, at 0 ms)",
                  f"- a cold one with one `coder` call and 3 round trips: {fmt(stat(shared0, 'coder_cold'), 0)} call(s), "
                  f"{fmt(round_trips(bench, SHARED, 'cold_ms'))} round trips"]
    if bench.failures:
        lines += ["", "## Failures", ""] + [f"- {failure}" for failure in bench.failures]
    return "\n".join(lines)


def difference(value, floor):
    return None if value is None or not floor else value - statistics.median(floor)


def plot(bench, out):
    try:
        import matplotlib
    except ImportError:
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    delays = (0, bench.args.delay_ms)
    figure, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    for axis, key, title in ((axes[0], "cold_ms", "cold command (first of the session)"), (axes[1], "warm_ms", "warm command (median, p90 bar)")):
        width = 0.8 / len(WAYS)
        for index, way in enumerate(WAYS):
            xs, heights, above = [], [], []
            for position, delay in enumerate(delays):
                row = bench.samples.get((way, delay))
                if row and row.get(key):
                    xs.append(position + (index - (len(WAYS) - 1) / 2) * width)
                    heights.append(statistics.median(row[key]))
                    above.append(p90(row[key]) - heights[-1] if key == "warm_ms" else 0)
            axis.bar(xs, heights, width, yerr=[[0] * len(above), above], capsize=3, label=way)
        axis.set_xticks(range(len(delays)), [f"{d:g} ms one way" for d in delays])
        axis.set_ylabel("ms per process")
        axis.set_title(title)
    axes[1].legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(out / "shared-session.png", dpi=110)
    plt.close(figure)
    return "shared-session.png"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--commands", type=int, default=20)
    parser.add_argument("--delay-ms", type=float, default=25)
    parser.add_argument("--max-minutes", type=float, default=20, help="stop starting sessions after this long")
    parser.add_argument("--build", default=str(ROOT / "build"))
    parser.add_argument("--out", default=str(BENCH / "results"))
    parser.add_argument("--command", default="python3 bench/shared_session.py", help="how the run was started, for the report")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # the finally below still cleans up
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    started = datetime.datetime.now(datetime.timezone.utc)
    load_before = os.getloadavg()
    clock = time.monotonic()
    work = pathlib.Path(tempfile.mkdtemp(prefix="coder-runtime-shared-session-"))
    try:
        with open(out / "shared-session-servers.log", "w") as log:
            bench = Bench(args, work, log)
            bench.run(clock + args.max_minutes * 60)
        text = report(bench, args.command, started, load_before, time.monotonic() - clock)
        (out / "shared-session.md").write_text(text + "\n")
        samples = [{"way": way, "delay_ms": delay, **row} for (way, delay), row in bench.samples.items()]
        (out / "shared-session.json").write_text(json.dumps({"command": args.command, "started": started.isoformat(), "samples": samples,
                                                             "floors": bench.floors, "failures": bench.failures}, indent=1) + "\n")
        written = plot(bench, out)
        print(text)
        print(f"bench: wrote {out / 'shared-session.md'}" + (f" and {written}" if written else " (no matplotlib: no plot)"),
              file=sys.stderr)
    finally:
        # Nothing of ours outlives the run: holders, masters, tunnels, relays, agents.
        stop_and_wait(processes_mentioning(str(work)))
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
