#!/usr/bin/python3
"""What a warm file request costs a Node host in round trips: files.stat, files.read and files.write
over the service's shared connection, via SFTP and via exec, beside a warm exec of `true`.

    python3 bench/service_files.py [--trials N] [--delay-ms D]   (bash bench/service_files builds, then runs this)

Node -> `coder-runtime serve --stdio` (bench/serve_client.js on clients/node) -> the stand-in Coder
CLI, whose `ssh --stdio` runs bench/delay_relay.py in front of the Go x/crypto/ssh server (the Coder
agent's library, with pkg/sftp, the agent's SFTP server). The relay delays each direction by 0 and
by D ms; round trips are (median at D - median at 0) / 2D, as bench/suite.py counts them. Each
client process makes one untimed request of the kind it times first, so what is timed is a warm
request on a warm connection (over SFTP: on the session the service keeps). Kinds are interleaved
per trial. Writes DIR/service-files.md and .json. Not a test: nothing passes or fails.
"""
import argparse
import datetime
import json
import os
import pathlib
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from suite import BENCH, ROOT, PeerFailed, fmt, machine_description, measure_process, output_options, require_built, write_report  # noqa: E402

STANDIN = ROOT / "tests" / "fixtures" / "coder" / "coder"
# (label, serve_client.js arguments before the count)
KINDS = (("exec `true`", ["warm"]),
         ("files.stat via SFTP", ["--via", "sftp", "stat"]),
         ("files.stat via exec", ["--via", "exec", "stat"]),
         ("files.read of 4 KiB via SFTP", ["--via", "sftp", "read"]),
         ("files.read of 4 KiB via exec", ["--via", "exec", "read"]),
         ("files.write of 4 KiB via SFTP", ["--via", "sftp", "write"]),
         ("files.write of 4 KiB via exec", ["--via", "exec", "write"]))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--count", type=int, default=20, help="timed requests per kind, trial and delay")
    parser.add_argument("--delay-ms", type=float, default=20)
    output_options(parser, "python3 bench/service_files.py")
    args = parser.parse_args()
    build = pathlib.Path(args.build)
    require_built(build, ("coder-runtime", "tests/go_sshd"), "run bash bench/service_files, which builds it")
    started = datetime.datetime.now(datetime.timezone.utc)
    clock = time.monotonic()
    delays = (0, args.delay_ms)
    samples = {(label, delay): [] for label, _ in KINDS for delay in delays}
    coder_calls = {(label, delay): [] for label, _ in KINDS for delay in delays}  # per client process
    failures = []
    with tempfile.TemporaryDirectory(prefix="coder-runtime-service-files-") as folder:
        work = pathlib.Path(folder)
        subprocess.run(["ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-m", "PEM", "-N", "", "-f", str(work / "host")],
                       check=True)
        target = work / "file"
        target.write_bytes(os.urandom(4096))
        log = work / "servers.log"
        agents = {}
        for delay in delays:
            agent = work / f"agent-{delay:g}"
            agent.write_text("#!/bin/sh\n" + shlex.join(["exec", "/usr/bin/python3", str(BENCH / "delay_relay.py"),
                                                         f"{delay:g}", str(build / "tests" / "go_sshd"), "-hostkey",
                                                         str(work / "host")]) + f" 2>>{shlex.quote(str(log))}\n")
            agent.chmod(0o755)
            agents[delay] = agent
            (work / f"state-{delay:g}").mkdir()
            (work / f"state-{delay:g}" / "scenario.json").write_text(json.dumps(
                {"workspaces": [{"name": "ws", "owner": "tester"}], "username": "tester", "go_sshd": str(agent)}))
        os.environ["XDG_CACHE_HOME"] = str(work / "cache")
        client = ["node", str(BENCH / "serve_client.js"), "--executable", str(build / "coder-runtime"),
                  "--coder", str(STANDIN), "--path", str(target)]
        for trial in range(args.trials):
            for delay in delays:
                os.environ["CODER_STANDIN_STATE"] = str(work / f"state-{delay:g}")
                order = KINDS[trial % len(KINDS):] + KINDS[:trial % len(KINDS)]
                for label, kind in order:
                    print(f"bench: trial {trial + 1}/{args.trials}, {delay:g} ms, {label}", file=sys.stderr)
                    calls = work / f"state-{delay:g}" / "calls.log"
                    before = len(calls.read_text().splitlines()) if calls.exists() else 0
                    try:
                        done = json.loads(measure_process(client + kind + [str(args.count)], timeout=300).output)
                    except (PeerFailed, ValueError, subprocess.TimeoutExpired) as failure:
                        failures.append(f"{label} at {delay:g} ms, trial {trial + 1}: {failure}")
                        continue
                    samples[(label, delay)] += [us / 1000 for us in done["wall_us"]]
                    coder_calls[(label, delay)].append(len(calls.read_text().splitlines()) - before)
    median = lambda values: statistics.median(values) if values else None  # noqa: E731
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    lines = ["# What a warm file request costs a Node host, in round trips", "",
             f"- Command: `{args.command}` ({(time.monotonic() - clock) / 60:.1f} min, {started:%Y-%m-%d %H:%M} UTC, "
             f"coder-runtime {commit})",
             f"- Machine: {machine_description()}",
             f"- Route: Node -> `coder-runtime serve --stdio` -> stand-in `coder ssh --stdio` -> bench/delay_relay.py "
             f"(0 and {args.delay_ms:g} ms each way) -> go_sshd (x/crypto/ssh, pkg/sftp). {args.count} warm requests "
             f"per kind, trial and delay, {args.trials} trials; medians. Round trips: (median at {args.delay_ms:g} ms - "
             f"median at 0) / {2 * args.delay_ms:g} ms. `coder` processes: lines in the stand-in's calls.log per client "
             f"process (one untimed and {args.count} timed requests), the most seen.", "",
             f"| request | at 0 ms (ms) | at {args.delay_ms:g} ms (ms) | round trips | `coder` processes |",
             "| --- | ---: | ---: | ---: | ---: |"]
    for label, _ in KINDS:
        at_zero, delayed = (median(samples[(label, delay)]) for delay in delays)
        trips = None if at_zero is None or delayed is None else (delayed - at_zero) / (2 * args.delay_ms)
        calls_seen = [n for delay in delays for n in coder_calls[(label, delay)]]
        lines.append(f"| {label} | {fmt(at_zero, 2)} | {fmt(delayed, 2)} | {fmt(trips, 2)} | "
                     f"{max(calls_seen) if calls_seen else 'n/a'} |")
    write_report(args.out, "service-files", lines, failures,
                 {"command": args.command, "started": started.isoformat(),
                  "samples": {f"{label} at {delay:g} ms": values for (label, delay), values in samples.items()}})


if __name__ == "__main__":
    main()
