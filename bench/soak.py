#!/usr/bin/python3
"""A bounded soak: many execs at once on shared connections through a relay that injects faults.

    python3 bench/soak.py [--seconds S] [--workspaces N] [--concurrency M] [--rate R] [--kinds K,...] [--check]

Node -> `coder-runtime serve --stdio` (bench/soak_client.js on clients/node) -> the stand-in Coder
CLI, whose `ssh --stdio` for each of N workspaces runs tests/support/fault_relay.py in front of the Go
x/crypto/ssh server (the Coder agent's library). Each window of up to 60,000 bytes of a connection
ends, with probability R, in a fault (a cut either way, a flipped bit, the proxy exiting, delays;
stalls on request): see the relay's own description. M loops per workspace run `seq 1 LINES` one after another with a deadline each,
for S seconds; one clean exec per workspace before and after the load (faults off) gives the
service's resources at the start and the end.

Invariants, checked and reported: every exec ends with every byte of its output and status 0, or
with an error that names its layer and code (or a timed-out end), within its deadline and a grace;
the clean exec after the load succeeds on every workspace (the pool has recovered); the service
holds no more descriptors or child processes at the end than at the start, and ends by itself once
its client leaves; nothing the run started is left running. Prints a table and writes DIR/soak.md and .json. With --check (the CI's short run,
tests/soak) it exits 1 when an invariant is broken. Stops itself: S seconds of load, a hard limit
on the client, and every process it started ended by PID.
"""
import argparse
import collections
import datetime
import json
import os
import pathlib
import shlex
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from suite import BENCH, ROOT, fmt, machine_description, output_options, require_built, stop_and_wait, write_report  # noqa: E402

STANDIN = ROOT / "tests" / "fixtures" / "coder" / "coder"
# A stall in the handshake waits out the service's dial budget (120 s, a workspace's start
# included): not among the defaults until a stall has a budget of its own.
DEFAULT_KINDS = "cut_up,cut_down,flip_down,exit,delay"
# Over an exec's deadline, which starts once the connection is there: the dial (a Python stand-in
# and relay, a handshake), then TERM and the channel's close with a second of grace each.
GRACE_MS = 10000


def processes_mentioning(text):
    """Processes whose command line or environment holds text: the run's folder reaches the relays
    and servers by their arguments, and the service and the stand-ins by CODER_STANDIN_STATE."""
    found = []
    for entry in pathlib.Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if any(text in (entry / name).read_bytes().decode(errors="replace") for name in ("cmdline", "environ")):
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


def wait_gone(text, patience):
    deadline = time.monotonic() + patience
    while time.monotonic() < deadline:
        left = processes_mentioning(text)
        if not left:
            return []
        time.sleep(0.1)
    return processes_mentioning(text)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--workspaces", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--timeout-ms", type=int, default=5000)
    parser.add_argument("--lines", type=int, default=20000)
    parser.add_argument("--rate", type=float, default=0.5, help="the share of windows that end in a fault")
    parser.add_argument("--kinds", default=DEFAULT_KINDS)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--check", action="store_true", help="exit 1 when an invariant is broken")
    output_options(parser, "python3 bench/soak.py")
    args = parser.parse_args()
    build = pathlib.Path(args.build)
    require_built(build, ("coder-runtime", "tests/go_sshd"), "build the coder-runtime and go_sshd targets")
    started = datetime.datetime.now(datetime.timezone.utc)
    clock = time.monotonic()
    kinds = [kind for kind in args.kinds.split(",") if kind]
    violations = []
    with tempfile.TemporaryDirectory(prefix="coder-runtime-soak-") as folder:
        work = pathlib.Path(folder)
        try:
            report, failure = run(args, build, work, kinds)
        finally:
            # Nothing of the run outlives it: relays, agents, stand-ins, the service.
            left = wait_gone(str(work), 10)
            stop_and_wait(left)
        relay_log = work / "relays.jsonl"
        relays = [json.loads(line) for line in relay_log.read_text().splitlines() if line.strip()]
    if report is None:
        violations.append(f"the client failed: {failure}")
        report = {"outcomes": [], "warm_up": [], "final": []}
    if left:
        violations.append(f"{len(left)} processes of the run were still running 10 s after it ended")
    lines = summarize(args, report, relays, kinds, violations, started, clock)
    write_report(args.out, "soak", lines, violations,
                 {"command": args.command, "started": started.isoformat(), "seed": args.seed, "report": report,
                  "relays": relays})
    if args.check and violations:
        sys.exit(1)


def run(args, build, work, kinds):
    """Runs the load: the client's report, or None and why."""
    subprocess.run(["ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-m", "PEM", "-N", "", "-f", str(work / "host")],
                   check=True)
    control, relay_log, server_log = work / "control.json", work / "relays.jsonl", work / "servers.log"
    clean = {"rate": 0, "seed": args.seed}
    control.write_text(json.dumps(clean))
    relay_log.touch()
    agent = work / "agent"
    # The relay's own stderr is the proxy's (what a fault's exit says reaches the error); the
    # server's goes to a log.
    server = shlex.join([str(build / "tests" / "go_sshd"), "-hostkey", str(work / "host")])
    agent.write_text("#!/bin/sh\n" + shlex.join(["exec", "/usr/bin/python3", str(ROOT / "tests" / "support" / "fault_relay.py"), str(control),
                                                 str(relay_log), "/bin/sh", "-c",
                                                 f"exec {server} 2>>{shlex.quote(str(server_log))}"]) + "\n")
    agent.chmod(0o755)
    (work / "state").mkdir()
    (work / "state" / "scenario.json").write_text(json.dumps(
        {"workspaces": [{"name": f"ws{i + 1}", "owner": "tester"} for i in range(args.workspaces)],
         "username": "tester", "go_sshd": str(agent)}))
    environment = dict(os.environ, CODER_STANDIN_STATE=str(work / "state"), XDG_CACHE_HOME=str(work / "cache"),
                       XDG_RUNTIME_DIR=str(work))
    load = {"rate": args.rate, "kinds": kinds, "seed": args.seed}
    client = ["node", str(BENCH / "soak_client.js"), "--executable", str(build / "coder-runtime"),
              "--coder", str(STANDIN), "--workspaces", str(args.workspaces), "--concurrency", str(args.concurrency),
              "--seconds", str(args.seconds), "--timeout-ms", str(args.timeout_ms), "--lines", str(args.lines),
              "--control", str(control), "--load-control", json.dumps(load)]
    limit = args.seconds + 120
    try:
        done = subprocess.run(client, capture_output=True, text=True, timeout=limit, env=environment)
    except subprocess.TimeoutExpired:
        return None, f"still running after {limit:g} s"
    if done.returncode != 0:
        return None, f"exit {done.returncode}: {done.stderr.strip()[-2000:]}"
    return json.loads(done.stdout), None


def summarize(args, report, relays, kinds, violations, started, clock):
    outcomes = report["outcomes"]
    bound = args.timeout_ms + GRACE_MS
    by_class = collections.defaultdict(list)
    for outcome in outcomes:
        by_class[outcome["class"]].append(outcome)
        if outcome["class"] == "wrong output":
            violations.append(f"{outcome['workspace']}: wrong output: {outcome.get('detail')}")
        elif outcome["class"].startswith("ended") and outcome["class"] != "ended timed_out":
            violations.append(f"{outcome['workspace']}: a command that was not ours to end {outcome['class']}: "
                              f"{outcome.get('detail')}")
        elif outcome["class"].startswith("error") and ("?" in outcome["class"] or not outcome.get("detail")):
            violations.append(f"{outcome['workspace']}: an error without its layer, code or words: {outcome}")
        if outcome["ms"] > bound:
            violations.append(f"{outcome['workspace']}: {outcome['class']} after {outcome['ms']:.0f} ms, over "
                              f"{bound} ms ({outcome.get('detail')})")
    for outcome in report["warm_up"]:
        if outcome["class"] != "ok":
            violations.append(f"the warm-up on {outcome['workspace']} (no faults): {outcome['class']}: "
                              f"{outcome.get('detail')}")
    for outcome in report["final"]:
        if outcome["class"] != "ok":
            violations.append(f"{outcome['workspace']} had not recovered 30 s after the load ({outcome['attempts']} "
                              f"attempts): {outcome['class']}: {outcome.get('detail')}")
    exit_status = report.get("service_exit")
    if exit_status and (exit_status.get("signal") or exit_status.get("code") not in (0, None)):
        violations.append(f"the service did not end by itself once its client left: {exit_status}")
    start, end = report.get("start"), report.get("end")
    if start and end:
        for key in ("fds", "children"):
            if end[key] > start[key]:
                violations.append(f"the service held {end[key]} {key} at the end, {start[key]} at the start")
    faults = collections.Counter(relay["fault"] for relay in relays if relay["fault"])
    faults["delay (windows)"] = sum(relay["delayed_windows"] for relay in relays)
    lines = ["# Soak: execs on shared connections through a fault-injecting relay", "",
             f"- Command: `{args.command}` ({(time.monotonic() - clock) / 60:.1f} min, {started:%Y-%m-%d %H:%M} UTC, "
             f"seed {args.seed})",
             f"- Machine: {machine_description()}",
             f"- Load: {args.workspaces} workspaces x {args.concurrency} concurrent execs of `seq 1 {args.lines}` for "
             f"{args.seconds:g} s, each with a {args.timeout_ms} ms deadline, from Node through `serve --stdio`, the "
             f"stand-in `coder ssh --stdio` and tests/support/fault_relay.py in front of go_sshd. A fault in "
             f"{args.rate:.0%} of each connection's windows of up to 60,000 bytes: {', '.join(kinds)}.", "",
             f"| fault injected | times |", "| --- | ---: |"]
    lines += [f"| {kind} | {count} |" for kind, count in sorted(faults.items())]
    lines.append(f"| connections | {len(relays)} |")
    lines += ["", "| outcome | execs | with evidence | median (ms) | worst (ms) |", "| --- | ---: | ---: | ---: | ---: |"]
    for name, members in sorted(by_class.items(), key=lambda item: -len(item[1])):
        times = sorted(member["ms"] for member in members)
        evidenced = sum(1 for member in members if member.get("evidence"))
        lines.append(f"| {name} | {len(members)} | {evidenced if name != 'ok' else 'n/a'} | "
                     f"{fmt(times[len(times) // 2], 0)} | {fmt(times[-1], 0)} |")
    if start and end:
        lines += ["", "| the service | start | end |", "| --- | ---: | ---: |",
                  f"| descriptors | {start['fds']} | {end['fds']} |",
                  f"| child processes | {start['children']} | {end['children']} |",
                  f"| resident memory (KiB) | {start['rss_kb']} | {end['rss_kb']} |",
                  "", f"After the load, every workspace served a clean exec within "
                  f"{max((o.get('recovered_ms', 0) for o in report['final']), default=0) / 1000:.1f} s; the end "
                  f"was read {report.get('settle_ms', 0) / 1000:.1f} s after that, once the service had let go of what "
                  "the faults left (20 s at most)."]
    lines += ["", f"Invariants: {'all held' if not violations else f'{len(violations)} broken'}."]
    return lines


if __name__ == "__main__":
    main()
