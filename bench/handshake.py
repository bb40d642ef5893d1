#!/usr/bin/env python3
"""Cold connect + auth + exec `true`, coder-runtime against OpenSSH's ssh, side by side in one run.

    python3 bench/handshake.py [--runs N] [--delay-ms D] [--out FILE]

Both clients read the same ssh_config and reach the same servers through a ProxyCommand: the Go
x/crypto/ssh server with none auth (the Coder agent's library) and OpenSSH's sshd with a public
key. Wall time is the median of N runs. Round trips are measured, not counted: each server sits
behind bench/delay_relay.py, and (median at D - median at 0) / 2D is how many round trips the
client waited for after the stream opened. Prints a Markdown table (and writes it to --out).
Not a test: nothing here passes or fails.
"""
import argparse
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent


def run_once(argv):
    started = time.perf_counter()
    done = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=60)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.decode(errors='replace')}")
    return elapsed


def median_ms(argv, runs):
    run_once(argv)  # warm the page cache and the binaries
    return statistics.median(run_once(argv) for _ in range(runs)) * 1000


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("--delay-ms", type=float, default=50)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "handshake.md"))
    args = parser.parse_args()

    ours = ROOT / "build" / "coder-runtime"
    go_server = ROOT / "build" / "tests" / "go_sshd"
    for needed in (ours, go_server):
        if not needed.exists():
            sys.exit(f"{needed} is missing: run scripts/setup first")
    work = pathlib.Path(tempfile.mkdtemp(prefix="coder-runtime-bench-"))
    try:
        for key in ("host", "id"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(work / key)], check=True)
        # The agent's host key is fixed per workspace: no RSA key generation inside the timing.
        subprocess.run(["ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-m", "PEM", "-N", "", "-f", str(work / "go_host")],
                       check=True)
        shutil.copy(work / "id.pub", work / "authorized_keys")
        (work / "sshd_config").write_text(
            f"HostKey {work}/host\nPidFile none\nUsePAM no\nStrictModes no\nLogLevel ERROR\n"
            f"AuthorizedKeysFile {work}/authorized_keys\n")
        relay = ROOT / "bench" / "delay_relay.py"
        servers = {
            "Go x/crypto/ssh, none auth": f"{go_server} -hostkey {work}/go_host",
            "OpenSSH sshd, publickey": f"/usr/sbin/sshd -i -f {work}/sshd_config",
        }
        blocks = []
        for delay in (0, args.delay_ms):
            for number, (name, command) in enumerate(servers.items()):
                blocks.append(f"Host s{number}-{int(delay)}\n"
                              f"  ProxyCommand {relay} {delay} {command}\n")
        (work / "ssh_config").write_text(
            "".join(blocks) +
            f"Host *\n  User {os.environ.get('USER', 'root')}\n  IdentityFile {work}/id\n  IdentitiesOnly yes\n"
            "  IdentityAgent none\n  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n  LogLevel ERROR\n"
            "  BatchMode yes\n")
        clients = {
            "coder-runtime": [str(ours), "ssh", "-F", str(work / "ssh_config")],
            "OpenSSH ssh": ["ssh", "-F", str(work / "ssh_config")],
        }
        rows = []
        for number, server in enumerate(servers):
            for client, argv in clients.items():
                at_zero = median_ms(argv + [f"s{number}-0", "true"], args.runs)
                delayed = median_ms(argv + [f"s{number}-{int(args.delay_ms)}", "true"], max(3, args.runs // 2))
                round_trips = (delayed - at_zero) / (2 * args.delay_ms)
                rows.append((server, client, at_zero, delayed, round_trips))
                print(f"  {server} / {client}: {at_zero:.1f} ms, {round_trips:.1f} round trips", file=sys.stderr)
        lines = [
            f"Cold connect + auth + exec `true` through a ProxyCommand; median of {args.runs} runs "
            f"({max(3, args.runs // 2)} with delay); round trips = (median at {args.delay_ms:g} ms one-way delay "
            "- median at 0) / (2 x delay).",
            "",
            f"| server | client | wall, no delay (ms) | wall, {args.delay_ms:g} ms each way (ms) | round trips |",
            "| --- | --- | ---: | ---: | ---: |",
        ]
        lines += [f"| {s} | {c} | {z:.1f} | {d:.1f} | {r:.1f} |" for s, c, z, d, r in rows]
        table = "\n".join(lines)
        print(table)
        out = pathlib.Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(table + "\n")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
