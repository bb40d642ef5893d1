#!/usr/bin/python3
"""What the process boundary costs a Node host: the same work three ways, in one run.

    python3 bench/service_boundary.py [--trials N]   (bash bench/service_boundary builds, then runs this)

- Node -> `coder-runtime serve --stdio` (bench/serve_client.js on clients/node): the service dials
  the workspace through the Coder CLI stand-in, whose `ssh --stdio` runs the agent;
- Node ssh2 in-process (bench/ssh2_client.js), the library the desktop app used;
- the coder-runtime library in-process (bench/coder_runtime_client.cpp, Coder profile).
All three reach the same agent, the Go x/crypto/ssh server over stdio with a fixed host key, and
each times the same work on one warm connection: a warm exec of `true`, 16 concurrent execs, and
256 MiB of an exec's stdout. Ways are interleaved per trial so that load drift hits them alike.
Writes DIR/service-boundary.md and .json. Not a test: nothing passes or fails.
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
from suite import BENCH, ROOT, PeerFailed, fmt, machine_description, measure_process, ratio, write_report  # noqa: E402

STANDIN = ROOT / "tests" / "fixtures" / "coder" / "coder"
SERVE, SSH2, LIBRARY = ("Node -> coder-runtime serve --stdio", "Node ssh2, in-process", "coder-runtime library, in-process")
WAYS = (SERVE, SSH2, LIBRARY)
STREAM_BYTES = 256 * 1024 * 1024
CONCURRENT = 16


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--warm", type=int, default=30, help="warm execs per trial")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of concurrent execs per trial")
    parser.add_argument("--build", default=str(ROOT / "build"))
    parser.add_argument("--out", default=str(BENCH / "results"))
    parser.add_argument("--command", default="python3 bench/service_boundary.py")
    args = parser.parse_args()
    build = pathlib.Path(args.build)
    for needed in (build / "coder-runtime", build / "bench" / "coder_runtime_client", build / "tests" / "go_sshd",
                   BENCH / "node" / "node_modules" / "ssh2"):
        if not needed.exists():
            raise SystemExit(f"{needed} is missing: run bash bench/service_boundary, which builds and installs it")
    started = datetime.datetime.now(datetime.timezone.utc)
    load_before = os.getloadavg()
    clock = time.monotonic()
    samples = {way: {"warm_ms": [], "concurrent_ms": [], "stream_mbps": [], "warm_cpu_ms": []} for way in WAYS}
    failures = []
    with tempfile.TemporaryDirectory(prefix="coder-runtime-service-boundary-") as folder:
        work = pathlib.Path(folder)
        subprocess.run(["ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-m", "PEM", "-N", "", "-f", str(work / "host")], check=True)
        log = work / "servers.log"
        agent = work / "agent"
        agent.write_text("#!/bin/sh\n" + shlex.join(["exec", str(build / "tests" / "go_sshd"), "-hostkey", str(work / "host")])
                         + f" 2>>{shlex.quote(str(log))}\n")
        agent.chmod(0o755)
        (work / "state").mkdir()
        (work / "state" / "scenario.json").write_text(json.dumps({"workspaces": [{"name": "ws", "owner": "tester"}],
                                                                   "username": "tester", "go_sshd": str(agent)}))
        os.environ["CODER_STANDIN_STATE"] = str(work / "state")
        os.environ["XDG_CACHE_HOME"] = str(work / "cache")
        prefixes = {
            SERVE: ["node", str(BENCH / "serve_client.js"), "--executable", str(build / "coder-runtime"), "--coder", str(STANDIN)],
            SSH2: ["node", str(BENCH / "ssh2_client.js"), "--proxy", str(agent), "--user", "coder"],
            LIBRARY: [str(build / "bench" / "coder_runtime_client"), "--proxy", str(agent), "--user", "coder", "--profile", "coder"],
        }
        for trial in range(args.trials):
            for way in WAYS[trial % len(WAYS):] + WAYS[:trial % len(WAYS)]:
                print(f"bench: trial {trial + 1}/{args.trials}, {way}", file=sys.stderr)
                try:
                    warm = json.loads(measure_process(prefixes[way] + ["warm", str(args.warm)], timeout=300).output)
                    concurrent = json.loads(measure_process(prefixes[way] + ["concurrent", str(CONCURRENT), str(args.rounds)],
                                                            timeout=300).output)
                    stream = json.loads(measure_process(prefixes[way] + ["stream", str(STREAM_BYTES)], timeout=300).output)
                except (PeerFailed, ValueError, subprocess.TimeoutExpired) as failure:
                    failures.append(f"{way}, trial {trial + 1}: {failure}")
                    continue
                row = samples[way]
                row["warm_ms"] += [us / 1000 for us in warm["wall_us"]]
                row["warm_cpu_ms"].append(warm["cpu_us"] / 1000 / len(warm["wall_us"]))
                row["concurrent_ms"] += [us / 1000 for us in concurrent["wall_us"]]
                if stream["bytes"] != STREAM_BYTES:
                    failures.append(f"{way}, trial {trial + 1}: {stream['bytes']} bytes of stdout, not {STREAM_BYTES}")
                else:
                    row["stream_mbps"].append(STREAM_BYTES / 1e6 / (stream["wall_us"] / 1e6))
    median = lambda values: statistics.median(values) if values else None  # noqa: E731
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    load_after = os.getloadavg()
    reference = {key: median(samples[LIBRARY][key]) for key in samples[LIBRARY]}
    lines = ["# What the process boundary costs a Node host", "",
             f"- Command: `{args.command}` ({(time.monotonic() - clock) / 60:.1f} min, {started:%Y-%m-%d %H:%M} UTC, "
             f"coder-runtime {commit})",
             f"- Machine: {machine_description()}; load average {load_before[0]:.2f} before, {load_after[0]:.2f} after",
             f"- Agent: go_sshd over stdio (no relay), one warm connection per client. Warm: `true`, {args.warm} per trial; "
             f"concurrent: {CONCURRENT} execs of `true` at once, {args.rounds} rounds per trial; stream: `head -c "
             f"{STREAM_BYTES} /dev/zero`, counted. Medians over {args.trials} trials. The client's CPU is its own process's "
             "(for serve, Node's alone; the service's is not counted).", "",
             "| way | warm exec (ms) | vs library | 16 concurrent execs (ms) | vs library | 256 MiB stdout (MB/s) | "
             "vs library | client CPU per warm exec (ms) |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for way in WAYS:
        row = {key: median(values) for key, values in samples[way].items()}
        lines.append(f"| {way} | {fmt(row['warm_ms'], 2)} | {ratio(row['warm_ms'], reference['warm_ms'])} | "
                     f"{fmt(row['concurrent_ms'], 2)} | {ratio(row['concurrent_ms'], reference['concurrent_ms'])} | "
                     f"{fmt(row['stream_mbps'], 0)} | {ratio(row['stream_mbps'], reference['stream_mbps'])} | "
                     f"{fmt(row['warm_cpu_ms'], 2)} |")
    write_report(args.out, "service-boundary", lines, failures,
                 {"command": args.command, "started": started.isoformat(), "samples": samples})


if __name__ == "__main__":
    main()
