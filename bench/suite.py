#!/usr/bin/env python3
"""The benchmark suite: SSH clients side by side against the same local servers, in one run.

    python3 bench/suite.py [--quick] [--only NAMES] [--out DIR]   (bench/run builds, then runs this)

Clients: OpenSSH's ssh, Node's ssh2 (bench/ssh2_client.js), libssh (bench/libssh_client.c) and
coder-runtime (the executable for process-per-command runs, bench/coder_runtime_client.cpp for
the library). Servers: OpenSSH's sshd with publickey auth and the Go x/crypto/ssh server
(tests/servers/go_sshd, the Coder agent's library) with none auth, each reached over loopback TCP
through bench/inetd.py, or as a ProxyCommand behind bench/delay_relay.py to count round trips.
The sftp measurement copies files instead: `coder-runtime scp` against OpenSSH's scp and sftp.
Every measurement interleaves the clients per iteration, so load drift hits them alike. Writes
DIR/results.md (Markdown tables) and DIR/*.png (matplotlib). Not a test: nothing passes or fails.
"""
import argparse
import datetime
import hashlib
import json
import os
import pathlib
import platform
import pwd
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
OURS = "coder-runtime"
CODER_PROFILE = "coder-runtime, Coder profile"
CIPHER = "chacha20-poly1305@openssh.com"  # every client's default but ssh2's (aes128-gcm)
# The libraries' default; ssh's with sshd would be sntrup761x25519-sha512@openssh.com, which costs it
# some 60 ms of CPU per connection and which no other client here implements.
KEX = "curve25519-sha256"
MEASUREMENTS = ("cold", "library-cold", "round-trips", "warm", "warm-round-trips", "concurrent", "stream", "idle",
                "crypto", "post-quantum", "sftp")
# OpenSSH 10.0, built by scripts/setup from Debian 13's source: the post-quantum measurement's
# modern server and client.
OPENSSH10 = ROOT / "build-deps" / "openssh-10" / "prefix"


class PeerFailed(Exception):
    pass


class Outcome:
    def __init__(self, wall, cpu, output, counted):
        self.wall, self.cpu, self.output, self.counted = wall, cpu, output, counted

    def json(self):
        return json.loads(self.output.decode().strip().splitlines()[-1])


def measure_process(argv, timeout=120, count_stdout=False, exits=(0,)):
    """Runs argv to completion; its wall time, the CPU it and its reaped children used (from
    wait4), its stdout (or, with count_stdout, how many bytes it wrote). An exit status not in
    exits: PeerFailed."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        child = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE if count_stdout else out,
                                 stderr=err, bufsize=0)
        watchdog = threading.Timer(timeout, child.kill)
        watchdog.daemon = True
        watchdog.start()
        try:
            counted = 0
            if count_stdout:
                buffer = bytearray(1 << 20)
                while n := child.stdout.readinto(buffer):
                    counted += n
                child.stdout.close()
            _, status, usage = os.wait4(child.pid, 0)
            wall = time.perf_counter() - started
        finally:
            watchdog.cancel()
        child.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait again
        if child.returncode not in exits and wall >= timeout:
            raise PeerFailed(f"{shlex.join(map(str, argv))} did not finish within {timeout:.0f} s (stopped)")
        if child.returncode not in exits:
            err.seek(0)
            raise PeerFailed(f"{shlex.join(map(str, argv))} exited with {child.returncode}: "
                             f"{err.read().decode(errors='replace').strip()[-600:]}")
        out.seek(0)
        return Outcome(wall, usage.ru_utime + usage.ru_stime, out.read(), counted)


def rotated(items, iteration):
    shift = iteration % len(items)
    return items[shift:] + items[:shift]


# How a client reaches a server: TCP to bench/inetd.py's port, PIPE (the server in inetd mode as the
# ProxyCommand: the shape of `coder ssh --stdio`), or a number: the one-way delay of
# bench/delay_relay.py as the ProxyCommand, in front of the server.
TCP, PIPE = "tcp", "pipe"


class Server:
    """One server, reachable over TCP (through bench/inetd.py) and as ProxyCommands."""

    def __init__(self, name, key, command, work, relay_delays, log):
        self.name, self.key, self.command = name, key, command
        port_file = work / f"{key}.port"
        self.listener = subprocess.Popen([sys.executable, str(BENCH / "inetd.py"), str(port_file)] + command,
                                         stdin=subprocess.DEVNULL, stderr=log)
        deadline = time.monotonic() + 20
        while not port_file.exists():
            if time.monotonic() > deadline or self.listener.poll() is not None:
                raise SystemExit(f"the {name} listener did not start")
            time.sleep(0.05)
        self.port = int(port_file.read_text())
        # The servers' own stderr (go_sshd logs each connection's end) goes to the log, not the report.
        self.proxy = {PIPE: f"{shlex.join(command)} 2>>{log.name}"}
        self.proxy.update({delay: f"{BENCH / 'delay_relay.py'} {delay:g} {shlex.join(command)} 2>>{log.name}"
                           for delay in relay_delays})

    def alias(self, route):
        return f"{self.key}-{route}" if isinstance(route, str) else f"{self.key}-relay-{route:g}"

    def config_blocks(self):
        blocks = [f"Host {self.alias(TCP)}\n  HostName 127.0.0.1\n  Port {self.port}\n"]
        blocks += [f"Host {self.alias(route)}\n  ProxyCommand {proxy}\n" for route, proxy in self.proxy.items()]
        return "".join(blocks)

    def harness_args(self, route):
        if route == TCP:
            return ["--host", "127.0.0.1", "--port", str(self.port)]
        return ["--proxy", self.proxy[route]]

    def stop(self):
        self.listener.terminate()
        self.listener.wait(timeout=10)


class Peer:
    """A client. `process` builds the argv of one process-per-command run (connect, auth, exec
    `true`); `harness` the argv prefix of its bench harness (None for OpenSSH, which has none).
    `servers` and `measurements`, when given, are the only ones it takes part in."""

    def __init__(self, name, process, harness, servers=None, measurements=None):
        self.name, self.process, self.harness = name, process, harness
        self.servers, self.measurements = servers, measurements

    def takes_part(self, measurement, server):
        return ((self.servers is None or server.key in self.servers) and
                (self.measurements is None or measurement in self.measurements))


class Suite:
    def __init__(self, args, work, log):
        self.args, self.work = args, work
        # coder-runtime remembers servers' first choices in the user's cache: the run keeps its own,
        # and starts without one.
        os.environ["XDG_CACHE_HOME"] = str(work / "cache")
        self.quick = args.quick
        self.delay = args.delay_ms
        self.concurrent_n = 16
        self.stream_size = (256 << 20) if self.quick else (1 << 30)
        self.idle_n = 10 if self.quick else 20
        self.sftp_size = (128 << 20) if self.quick else (1 << 30)
        self.background = []  # PIDs of ssh masters and idle ssh processes, stopped at the end
        self.results = {}
        self.pq_kex = {}  # (server name, client name): the key exchange agreed
        self.failures = []
        build = pathlib.Path(args.build)
        self.crypto_bench = build / "bench" / "crypto_bench"
        go_sshd = build / "tests" / "go_sshd"
        for needed in ("coder-runtime", "bench/libssh_client", "bench/coder_runtime_client", "bench/crypto_bench",
                       "tests/go_sshd"):
            if not (build / needed).exists():
                raise SystemExit(f"{build / needed} is missing: run bench/run, which builds it")
        self.servers = []
        for key in ("host", "id"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(work / key)], check=True)
        # The agent's host key is fixed per workspace: no RSA key generation inside the timing.
        subprocess.run(["ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-m", "PEM", "-N", "", "-f",
                        str(work / "go_host")], check=True)
        shutil.copy(work / "id.pub", work / "authorized_keys")
        work.chmod(0o755)  # sshd reads authorized_keys as the user logging in
        (work / "authorized_keys").chmod(0o644)
        (work / "sshd_config").write_text(
            f"HostKey {work}/host\nPidFile none\nUsePAM no\nStrictModes no\nLogLevel ERROR\n"
            f"AuthorizedKeysFile {work}/authorized_keys\nMaxSessions 128\n"
            # Debian's, for the sftp measurement; sshd starts it with the login user's `/bin/sh -c`, which
            # reads no startup files to be timed.
            "Subsystem sftp /usr/lib/openssh/sftp-server\n")
        delays = (0, self.delay)
        try:
            self.servers.append(Server("Go x/crypto/ssh, none auth", "go",
                                       [str(go_sshd), "-hostkey", str(work / "go_host")], work, delays, log))
            self.servers.append(Server("OpenSSH sshd, publickey", "sshd",
                                       ["/usr/sbin/sshd", "-i", "-f", str(work / "sshd_config")], work, delays, log))
            # Each sshd with its own default key exchange (hosts pq-*, which the Host * !pq-* block
            # below leaves out): only the post-quantum measurement uses them.
            self.pq_servers = [Server("OpenSSH 9.2 sshd, its defaults", "pq-sshd92",
                                      ["/usr/sbin/sshd", "-i", "-f", str(work / "sshd_config")], work, delays, log)]
            if (OPENSSH10 / "sbin" / "sshd").exists():
                # Built without PAM, it would warn at the UsePAM line.
                (work / "sshd10_config").write_text((work / "sshd_config").read_text().replace("UsePAM no\n", ""))
                self.pq_servers.append(Server("OpenSSH 10.0 sshd, its defaults", "pq-sshd10",
                                              [str(OPENSSH10 / "sbin" / "sshd"), "-i", "-f", str(work / "sshd10_config")],
                                              work, delays, log))
        except BaseException:
            self.stop()
            raise
        self.user = login_user()
        self.config = work / "ssh_config"
        self.config.write_text(
            "".join(server.config_blocks() for server in self.servers + self.pq_servers) +
            f"Host * !pq-*\n  KexAlgorithms {KEX}\n"
            f"Host *\n  User {self.user}\n  IdentityFile {work}/id\n  IdentitiesOnly yes\n  IdentityAgent none\n"
            "  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n  LogLevel ERROR\n  BatchMode yes\n"
            f"  Ciphers {CIPHER}\n")
        self.ssh = ["ssh", "-F", str(self.config)]
        ours_cli = [str(build / "coder-runtime"), "ssh", "-F", str(self.config)]
        libssh = [str(build / "bench" / "libssh_client")]
        ssh2 = ["node", str(BENCH / "ssh2_client.js")]
        ours_library = [str(build / "bench" / "coder_runtime_client")]

        coder_profile = ours_library + ["--profile", "coder"]
        # The post-quantum measurement's clients: each one's argv before `HOST true`.
        self.pq_clients = [(OURS, ours_cli), ("OpenSSH 9.2 ssh", self.ssh)]
        if (OPENSSH10 / "bin" / "ssh").exists():
            self.pq_clients.append(("OpenSSH 10.0 ssh", [str(OPENSSH10 / "bin" / "ssh"), "-F", str(self.config)]))

        def harness_process(prefix):
            return lambda server, route: prefix + self.harness_target(server, route) + ["cold", "1"]

        self.peers = [
            Peer(OURS, lambda server, route: ours_cli + [server.alias(route), "true"], ours_library),
            Peer("OpenSSH ssh", lambda server, route: self.ssh + [server.alias(route), "true"], None),
            Peer("libssh", harness_process(libssh), libssh),
            Peer("Node ssh2", harness_process(ssh2), ssh2),
            # What `coder-runtime exec` does once the workspace is up: the Go server is the agent.
            Peer(CODER_PROFILE, harness_process(coder_profile), coder_profile, servers={"go"},
                 measurements={"cold", "library-cold", "round-trips", "warm", "warm-round-trips"}),
        ]

    def harness_target(self, server, route, cipher=CIPHER):
        return server.harness_args(route) + ["--user", self.user, "--key", str(self.work / "id"), "--cipher", cipher]

    def record(self, measurement, server, peer, **values):
        row = self.results.setdefault(measurement, {}).setdefault(server.name, {}).setdefault(peer.name, {})
        for key, value in values.items():
            row.setdefault(key, []).extend(value if isinstance(value, list) else [value])

    def attempt(self, measurement, server, peer, body):
        """Runs one sample; a failing client is reported and left out of the rest of the measurement."""
        if not peer.takes_part(measurement, server):
            return
        if (measurement, server.name, peer.name) in {f[:3] for f in self.failures}:
            return
        try:
            body()
        except (PeerFailed, subprocess.TimeoutExpired, json.JSONDecodeError, IndexError) as failure:
            print(f"  {peer.name} / {server.name} / {measurement}: FAILED: {failure}", file=sys.stderr)
            self.failures.append((measurement, server.name, peer.name, str(failure)))

    def harness(self, peer, server, *mode, route=PIPE, cipher=CIPHER, timeout=300):
        argv = peer.harness + self.harness_target(server, route, cipher) + [str(word) for word in mode]
        return measure_process(argv, timeout=timeout).json()

    # OpenSSH: a ControlMaster holds the connection; every exec on it is an `ssh -S` process.
    def start_master(self, server, route):
        path = self.work / f"cm-{server.alias(route)}"
        options = self.ssh + ["-o", f"ControlPath={path}"]
        measure_process(options + ["-o", "ControlMaster=yes", "-o", "ControlPersist=no", "-f", "-N",
                                   server.alias(route)], timeout=60)
        checked = subprocess.run(options + ["-O", "check", server.alias(route)], capture_output=True, text=True)
        found = re.search(r"pid=(\d+)", checked.stderr)
        if found:
            self.background.append(int(found.group(1)))
        return options + ["-o", "ControlMaster=no"]

    def stop_master(self, client, server, route):
        subprocess.run(client + ["-O", "exit", server.alias(route)], capture_output=True)

    # ---- the measurements -------------------------------------------------------------------

    def cold(self):
        """Process per command: wall through a ProxyCommand, and over TCP wall and the client's CPU
        (wait4; over TCP the client has no child whose CPU would be counted with its own)."""
        runs = 10 if self.quick else 30
        for server in self.servers:
            for iteration in range(runs + 1):  # iteration 0 warms the page cache; not recorded
                for peer in rotated(self.peers, iteration):
                    def sample():
                        piped = measure_process(peer.process(server, PIPE), timeout=60)
                        direct = measure_process(peer.process(server, TCP), timeout=60)
                        if iteration:
                            self.record("cold", server, peer, wall_ms=piped.wall * 1000,
                                        tcp_wall_ms=direct.wall * 1000, cpu_ms=direct.cpu * 1000)
                    self.attempt("cold", server, peer, sample)

    def library_cold(self):
        """Connect + auth + exec + disconnect inside a running process (what a long-lived app pays):
        wall through a ProxyCommand, and the client's CPU over TCP (where no proxy process is
        started for each connection, so the CPU is the handshake's and the exec's alone)."""
        rounds, per_round = (3, 5) if self.quick else (5, 10)
        for server in self.servers:
            for iteration in range(rounds):
                for peer in rotated([p for p in self.peers if p.harness], iteration):
                    def sample():
                        piped = self.harness(peer, server, "cold", per_round)
                        direct = self.harness(peer, server, "cold", per_round, route=TCP)
                        self.record("library-cold", server, peer, wall_ms=[t / 1000 for t in piped["wall_us"]],
                                    cpu_ms=direct["cpu_us"] / 1000 / per_round)
                    self.attempt("library-cold", server, peer, sample)

    def round_trips(self):
        """Process per command through the relay at 0 and at D one-way delay."""
        runs = 3 if self.quick else 7
        for server in self.servers:
            for iteration in range(runs + 1):
                for peer in rotated(self.peers, iteration):
                    for delay in (0, self.delay):
                        def sample():
                            done = measure_process(peer.process(server, delay), timeout=60)
                            if iteration:
                                self.record("round-trips", server, peer, **{f"at_{delay:g}": done.wall * 1000})
                        self.attempt("round-trips", server, peer, sample)

    def post_quantum(self):
        """Each sshd (9.2, and 10.0 where scripts/setup built it) and each client with its own
        default key exchange, as users run them: a process per command (connect, publickey, exec
        `true`) through the relay at 0 and D one-way delay, and over TCP for the client's CPU; the
        key exchange agreed, from one verbose run per pair."""
        runs = 3 if self.quick else 7
        for server in self.pq_servers:
            for name, client in self.pq_clients:
                # Our agreed algorithms are a debug line (-vv); OpenSSH's a debug1 line (-v).
                verbose_flag = "-vv" if name == OURS else "-v"
                verbose = subprocess.run(client + [verbose_flag, server.alias(TCP), "true"], capture_output=True,
                                         text=True, timeout=60)
                agreed = re.search(r"kex: (?:algorithm: )?([^\s,]+)", verbose.stderr)
                self.pq_kex[(server.name, name)] = agreed.group(1) if agreed else "unknown"
            for iteration in range(runs + 1):  # iteration 0: page cache, and our remembered first choices
                for name, client in rotated(self.pq_clients, iteration):
                    peer = Peer(name, None, None)
                    def sample():
                        timed = {delay: measure_process(client + [server.alias(delay), "true"], timeout=60)
                                 for delay in (0, self.delay)}
                        direct = measure_process(client + [server.alias(TCP), "true"], timeout=60)
                        if iteration:
                            self.record("post-quantum", server, peer, cpu_ms=direct.cpu * 1000,
                                        **{f"at_{delay:g}": done.wall * 1000 for delay, done in timed.items()})
                    self.attempt("post-quantum", server, peer, sample)

    def on_connections(self, measurement, route, rounds, with_harness, with_master):
        """Interleaved rounds of work on an established connection to each server: a harness holds
        its own; OpenSSH's is a ControlMaster, started on first use and ended after the last round."""
        for server in self.servers:
            master = None
            for iteration in range(rounds):
                for peer in rotated(self.peers, iteration):
                    def sample():
                        nonlocal master
                        if peer.harness:
                            with_harness(server, peer)
                            return
                        if master is None:
                            master = self.start_master(server, route)
                        with_master(server, peer, master)
                    self.attempt(measurement, server, peer, sample)
            if master:
                self.stop_master(master, server, route)

    def warm(self, measurement="warm", routes=(PIPE,)):
        """Exec `true` on an established connection; OpenSSH: an `ssh` process per exec on its master."""
        rounds, per_round = (3, 10) if self.quick else (5, 20)
        if measurement == "warm-round-trips":
            rounds, per_round = (1, 5) if self.quick else (3, 5)
        for route in routes:
            key = "wall_ms" if route == PIPE else f"at_{route:g}"

            def with_harness(server, peer):
                done = self.harness(peer, server, "warm", per_round, route=route)
                self.record(measurement, server, peer, **{key: [t / 1000 for t in done["wall_us"]]},
                            cpu_ms=done["cpu_us"] / 1000 / per_round)

            def with_master(server, peer, master):
                for _ in range(per_round):
                    done = measure_process(master + [server.alias(route), "true"], timeout=60)
                    self.record(measurement, server, peer, **{key: done.wall * 1000}, cpu_ms=done.cpu * 1000)

            self.on_connections(measurement, route, rounds, with_harness, with_master)

    def warm_round_trips(self):
        self.warm("warm-round-trips", (0, self.delay))

    def concurrent(self):
        """N execs at once on one connection; OpenSSH: N `ssh` processes at once on its master."""
        n, rounds, per_round = self.concurrent_n, *((2, 3) if self.quick else (5, 5))

        def with_harness(server, peer):
            done = self.harness(peer, server, "concurrent", n, per_round)
            self.record("concurrent", server, peer, wall_ms=[t / 1000 for t in done["wall_us"]])

        def with_master(server, peer, master):
            for _ in range(per_round):
                started = time.perf_counter()
                children = [subprocess.Popen(master + [server.alias(PIPE), "true"], stdin=subprocess.DEVNULL,
                                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for _ in range(n)]
                for child in children:
                    _, err = child.communicate(timeout=60)
                    if child.returncode != 0:
                        raise PeerFailed(f"ssh exited with {child.returncode}: {err.decode()[-300:]}")
                self.record("concurrent", server, peer, wall_ms=(time.perf_counter() - started) * 1000)

        self.on_connections("concurrent", PIPE, rounds, with_harness, with_master)

    def stream(self):
        """`head -c SIZE /dev/zero` on the server, read by the client over TCP (so ssh's wait4 CPU is
        its own): MB/s and client CPU per GiB."""
        size = self.stream_size
        ciphers = [CIPHER] if self.quick else [CIPHER, "aes128-gcm@openssh.com"]
        rounds = 1 if self.quick else 2
        timeout = 60 + size / 5e6  # slower than 5 MB/s is a stall, reported as a failure
        for server in self.servers:
            for cipher in ciphers:
                measurement = f"stream {cipher}"
                for iteration in range(rounds):
                    for peer in rotated(self.peers, iteration):
                        def sample():
                            if peer.harness:
                                done = self.harness(peer, server, "stream", size, route=TCP, cipher=cipher,
                                                    timeout=timeout)
                                got, wall, cpu = done["bytes"], done["wall_us"] / 1e6, done["cpu_us"] / 1e6
                            else:
                                argv = self.ssh + ["-o", f"Ciphers={cipher}", server.alias(TCP),
                                                   f"head -c {size} /dev/zero"]
                                done = measure_process(argv, timeout=timeout, count_stdout=True)
                                got, wall, cpu = done.counted, done.wall, done.cpu
                            if got != size:
                                raise PeerFailed(f"received {got} bytes of {size}")
                            self.record(measurement, server, peer, mb_per_s=size / wall / 1e6,
                                        cpu_s_per_gib=cpu * (1 << 30) / size)
                        self.attempt(measurement, server, peer, sample)

    def idle(self):
        """Memory per idle authenticated connection over TCP. Libraries: one process holding 1 + N
        connections, the RSS growth over the last N. OpenSSH: one `ssh -N` process per connection,
        its RSS and PSS."""
        n = self.idle_n
        for server in self.servers:
            for iteration in range(1 if self.quick else 3):
                for peer in rotated(self.peers, iteration):
                    def sample():
                        if peer.harness:
                            done = self.harness(peer, server, "idle", n, route=TCP)
                            self.record("idle", server, peer,
                                        kb=(done["rss_kb_after"] - done["rss_kb_before"]) / done["connections"])
                            return
                        argv = self.ssh + ["-o", "ControlMaster=no", "-f", "-N", server.alias(TCP)]
                        for _ in range(n):
                            measure_process(argv, timeout=60)
                        pids = processes_with_argv(argv)
                        self.background += pids
                        rss = [memory_kb(pid, "/proc/{}/status", "VmRSS:") for pid in pids]
                        pss = [memory_kb(pid, "/proc/{}/smaps_rollup", "Pss:") for pid in pids]
                        stop_and_wait(pids)
                        if len(pids) != n:
                            raise PeerFailed(f"found {len(pids)} idle ssh processes, expected {n}")
                        self.record("idle", server, peer, kb=statistics.mean(rss), pss_kb=statistics.mean(pss))
                    self.attempt("idle", server, peer, sample)

    def sftp(self):
        """Copies over SFTP, a process per copy over loopback TCP: one big file up and down, and a
        folder of 100 files of 4 KiB up and down (-r). Our scp, OpenSSH's scp (SFTP by default
        since 9.0) and `sftp -b` against sshd; ours and OpenSSH's scp against the Go server (pkg/sftp,
        as the agent serves it). A copy counts only once its size and digest match the original's.
        The remote side is this machine's file system, so both ends are checked from here."""
        size, files, file_size = self.sftp_size, 100, 4096
        runs = 3
        timeout = 60 + size / 5e6  # slower than 5 MB/s is a stall, reported as a failure
        folder = self.work / "sftp"
        local, remote = folder / "local", folder / "remote"
        remote.mkdir(parents=True)
        local.mkdir()
        if os.geteuid() == 0:  # sshd's side writes as the login user
            account = pwd.getpwnam(self.user)
            os.chown(remote, account.pw_uid, account.pw_gid)
        big, small = local / "big", local / "small"
        big_sum = write_random(big, size)
        small.mkdir()
        for index in range(files):
            (small / f"{index:03}").write_bytes(os.urandom(file_size))
        small_sum = tree_sum(small)
        batch = folder / "batch"
        build = pathlib.Path(self.args.build)
        ours = [str(build / "coder-runtime"), "scp", "-F", str(self.config), "-q"]
        scp = ["scp", "-F", str(self.config), "-q"]

        def scp_like(prefix):
            def argv(alias, upload, source, target, recursive):
                return prefix + ["-r"] * recursive + ([source, f"{alias}:{target}"] if upload else
                                                      [f"{alias}:{source}", target])
            return argv

        def sftp_batch(alias, upload, source, target, recursive):
            batch.write_text(f"{'put' if upload else 'get'}{' -r' * recursive} {source} {target}\n")
            return ["sftp", "-F", str(self.config), "-q", "-b", str(batch), alias]

        clients = [(OURS, scp_like(ours), {"sshd", "go"}), ("OpenSSH scp", scp_like(scp), {"sshd", "go"}),
                   ("OpenSSH sftp -b", sftp_batch, {"sshd"})]
        # go_sshd closes the channel (pkg/sftp's Server.Close) before it sends the exit status, so
        # OpenSSH's scp, seeing none, exits 1 from a whole copy there: the check below judges it.
        exits = {"go": (0, 1), "sshd": (0,)}
        self.sftp_clients = [name for name, _, _ in clients]
        # (key recorded, upload, source, target, recursive, the original's size and digest)
        copies = [("up", True, big, remote / "big", False, big_sum),
                  ("down", False, big, local / "big-copy", False, big_sum),
                  ("small_up", True, small, remote / "small", True, small_sum),
                  ("small_down", False, small, local / "small-copy", True, small_sum)]
        try:
            for server in self.servers:
                for iteration in range(runs):
                    for name, argv, servers in rotated(clients, iteration):
                        if server.key not in servers:
                            continue
                        peer = Peer(name, None, None)
                        def sample():
                            for key, upload, source, target, recursive, original in copies:
                                remove(target)
                                done = measure_process(argv(server.alias(TCP), upload, str(source), str(target),
                                                            recursive), timeout=timeout, exits=exits[server.key])
                                got = tree_sum(target) if recursive else file_sum(target)
                                remove(target)
                                if got != original:
                                    raise PeerFailed(f"{key}: the copy ({got[0]} bytes) differs from the original "
                                                     f"({original[0]} bytes)")
                                if recursive:
                                    self.record("sftp", server, peer, **{f"{key}_ms": done.wall * 1000})
                                else:
                                    self.record("sftp", server, peer, **{f"{key}_s": done.wall,
                                                                         f"{key}_mb_per_s": size / done.wall / 1e6})
                        self.attempt("sftp", server, peer, sample)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def crypto(self):
        min_time = 0.05 if self.quick else 0.5
        out = self.work / "crypto.json"
        subprocess.run([str(self.crypto_bench), f"--benchmark_min_time={min_time}", "--benchmark_format=console",
                        f"--benchmark_out={out}", "--benchmark_out_format=json"], check=True,
                       stdout=subprocess.DEVNULL)
        self.crypto_results = json.loads(out.read_text())

    def stop(self):
        """Ends what the suite started, by PID: ssh masters, idle ssh processes, the listeners, then
        any server or relay still running from this run's folder (a client that died can leave its
        ProxyCommand behind: libssh's child keeps both ends of its socket pair, so never sees EOF)."""
        for pid in self.background:
            stop(pid)
        for server in self.servers + getattr(self, "pq_servers", []):
            server.stop()
        marker = str(self.work).encode()
        stop_and_wait([pid for pid in all_processes() if marker in read_cmdline(pid) and pid != os.getpid()])


def login_user():
    """Who the clients log in as: as root, the unprivileged cr-ssh-test account that scripts/setup
    (or bench/run) creates, whose shell is /bin/sh: sshd runs each command through the user's shell,
    and a login shell's startup files (root's .bashrc, say) would be timed as part of every exec.
    The Go server ignores the name and runs /bin/sh as whoever started it."""
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("cr-ssh-test")
            return "cr-ssh-test"
        except KeyError:
            pass
    return os.environ.get("USER") or pwd.getpwuid(os.geteuid()).pw_name


def write_random(path, size):
    """SIZE bytes from urandom (nothing a compressing link could shrink); their file_sum."""
    digest = hashlib.blake2b()
    with open(path, "wb") as out:
        for _ in range(0, size, 16 << 20):
            block = os.urandom(min(16 << 20, size - out.tell()))
            digest.update(block)
            out.write(block)
    return size, digest.hexdigest()


def file_sum(path):
    """(size, BLAKE2b digest) of a file; (-1, None) where there is none."""
    try:
        with open(path, "rb") as source:
            return os.fstat(source.fileno()).st_size, hashlib.file_digest(source, "blake2b").hexdigest()
    except OSError:
        return -1, None


def tree_sum(path):
    """(total size, a digest of every file's relative name and contents) of a folder."""
    if not path.is_dir():
        return -1, None
    digest, total = hashlib.blake2b(), 0
    for entry in sorted(p for p in path.rglob("*") if p.is_file()):
        size, contents = file_sum(entry)
        digest.update(f"{entry.relative_to(path)}\0{contents}\0".encode())
        total += size
    return total, digest.hexdigest()


def remove(path):
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def all_processes():
    return [int(entry.name) for entry in pathlib.Path("/proc").iterdir() if entry.name.isdigit()]


def read_cmdline(pid):
    try:
        return pathlib.Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def processes_with_argv(argv):
    wanted = "\0".join(argv).encode() + b"\0"
    return [pid for pid in all_processes() if read_cmdline(pid) == wanted]


def memory_kb(pid, path, field):
    for line in pathlib.Path(path.format(pid)).read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1])
    return 0


def stop(pid):
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass


def stop_and_wait(pids, timeout=10):
    """Stops processes that are not our children (ssh -f detached them) and waits until they are gone."""
    for pid in pids:
        stop(pid)
    deadline = time.monotonic() + timeout
    while any(map(running, pids)) and time.monotonic() < deadline:
        time.sleep(0.02)


def running(pid):
    """Neither gone nor a zombie (whose parent, init here, may never reap it)."""
    try:
        stat = pathlib.Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


# ---- the report ---------------------------------------------------------------------------------

def output_options(parser, command):
    """The options every stand-alone benchmark script takes: where the build is, where the report
    goes, and how the run was started (for the report)."""
    parser.add_argument("--build", default=str(ROOT / "build"))
    parser.add_argument("--out", default=str(BENCH / "results"))
    parser.add_argument("--command", default=command, help="how the run was started, for the report")


def require_built(build, paths, how):
    """Exits with a message naming the first of paths (under build) that is missing and how to make it."""
    for path in paths:
        if not (pathlib.Path(build) / path).exists():
            raise SystemExit(f"{pathlib.Path(build) / path} is missing: {how}")


def write_report(out, stem, lines, failures, record):
    """Ends the report's lines with the failures, writes OUT/STEM.md and STEM.json (the record, with
    the failures), prints the report and says where it went."""
    if failures:
        lines = lines + ["", "## Failures", ""] + [f"- {failure}" for failure in failures]
    text = "\n".join(lines)
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.md").write_text(text + "\n")
    (out / f"{stem}.json").write_text(json.dumps({**record, "failures": failures}, indent=1) + "\n")
    print(text)
    print(f"bench: wrote {out / (stem + '.md')}", file=sys.stderr)


def fmt(value, digits=1):
    return "n/a" if value is None else f"{value:,.{digits}f}"


def ratio(value, reference):
    if value is None or not reference:
        return "n/a"
    return f"{value / reference:.2f}"


def median(row, key):
    values = row.get(key) if row else None
    return statistics.median(values) if values else None


def spread_table(suite, measurement, key, unit, headline, extra=(), higher_is_better=False):
    """Median, min, max per server and client, with the ratio to coder-runtime's median."""
    if measurement not in suite.results:
        return []
    lines = [headline, ""]
    header = f"| server | client | median {unit} | min | max | vs {OURS} |"
    rule = "| --- | --- | ---: | ---: | ---: | ---: |"
    for title, _, _, compared in extra:
        header += f" {title} |" + (f" vs {OURS} |" if compared else "")
        rule += " ---: |" + (" ---: |" if compared else "")
    lines += [header, rule]
    for server_name, rows in suite.results.get(measurement, {}).items():
        for peer in suite.peers:
            row = rows.get(peer.name)
            values = row.get(key) if row else None
            if not values:
                continue
            mid = statistics.median(values)
            reference = median(rows.get(OURS), key)
            line = (f"| {server_name} | {peer.name} | {fmt(mid)} | {fmt(min(values))} | {fmt(max(values))} | "
                    f"{ratio(mid, reference)} |")
            for _, extra_key, digits, compared in extra:
                value = median(row, extra_key)
                line += f" {fmt(value, digits)} |"
                if compared:
                    line += f" {ratio(value, median(rows.get(OURS), extra_key))} |"
            lines.append(line)
    return lines


def summary_table(suite):
    """The medians of each measurement, one row per server and client (the README's table)."""
    columns = [("cold exec, ProxyCommand (ms)", "cold", "wall_ms", 0),
               ("client CPU per cold exec (ms)", "cold", "cpu_ms", 1),
               ("in-process cold exec (ms)", "library-cold", "wall_ms", 1),
               ("client CPU per in-process cold exec (ms)", "library-cold", "cpu_ms", 2),
               ("round trips, cold exec", "round-trips", None, 1),
               ("warm exec (ms)", "warm", "wall_ms", 1),
               (f"{suite.concurrent_n} concurrent execs (ms)", "concurrent", "wall_ms", 0),
               (f"MB/s, {CIPHER.split('@')[0]}", f"stream {CIPHER}", "mb_per_s", 0),
               ("kB per idle connection", "idle", "kb", 0)]
    columns = [column for column in columns if column[1] in suite.results]
    if not columns:
        return []
    lines = ["## Summary", "", "Medians; the sections below give min, max, ratios and how each figure was taken.", "",
             "| server | client | " + " | ".join(title for title, _, _, _ in columns) + " |",
             "| --- | --- |" + " ---: |" * len(columns)]
    for server in suite.servers:
        for peer in suite.peers:
            if peer.servers is not None and server.key not in peer.servers:
                continue
            cells = []
            for _, measurement, key, digits in columns:
                row = suite.results[measurement].get(server.name, {}).get(peer.name)
                value = round_trip_count(suite, row) if key is None else median(row, key)
                cells.append("-" if value is None else fmt(value, digits))
            lines.append(f"| {server.name} | {peer.name} | " + " | ".join(cells) + " |")
    return lines


def round_trip_table(suite, measurement, headline):
    if measurement not in suite.results:
        return []
    lines = [headline, "",
             f"| server | client | median at 0 (ms) | median at {suite.delay:g} ms (ms) | round trips | vs {OURS} |",
             "| --- | --- | ---: | ---: | ---: | ---: |"]
    for server_name, rows in suite.results.get(measurement, {}).items():
        ours = round_trip_count(suite, rows.get(OURS))
        for peer in suite.peers:
            row = rows.get(peer.name)
            if not row:
                continue
            at_zero, delayed = median(row, "at_0"), median(row, f"at_{suite.delay:g}")
            count = round_trip_count(suite, row)
            lines.append(f"| {server_name} | {peer.name} | {fmt(at_zero)} | {fmt(delayed)} | {fmt(count)} | "
                         f"{ratio(count, ours)} |")
    return lines


def post_quantum_table(suite):
    rows_by_server = suite.results.get("post-quantum")
    if not rows_by_server:
        return []
    lines = ["## Post-quantum key exchange: each server's and client's defaults", "",
             "A process per command (connect, publickey, exec `true`). Round trips through bench/delay_relay.py "
             f"as above; the client's CPU (user + system) over loopback TCP. `vs OpenSSH 10.0 ssh`: the client's "
             "CPU divided by OpenSSH 10's.", "",
             f"| server | client | key exchange agreed | round trips | client CPU (ms) | vs OpenSSH 10.0 ssh |",
             "| --- | --- | --- | ---: | ---: | ---: |"]
    for server_name, rows in rows_by_server.items():
        reference = median(rows.get("OpenSSH 10.0 ssh"), "cpu_ms")
        for name, _ in suite.pq_clients:
            row = rows.get(name)
            if not row:
                continue
            cpu = median(row, "cpu_ms")
            lines.append(f"| {server_name} | {name} | {suite.pq_kex.get((server_name, name), 'unknown')} | "
                         f"{fmt(round_trip_count(suite, row))} | {fmt(cpu, 2)} | {ratio(cpu, reference)} |")
    return lines


def sftp_table(suite):
    rows_by_server = suite.results.get("sftp")
    if not rows_by_server:
        return []
    size = suite.sftp_size
    big = f"{size >> 30} GiB" if size >= 1 << 30 else f"{size >> 20} MiB"
    scp = "OpenSSH scp"
    lines = [f"## SFTP copies: a {big} file{' (a quick run)' if suite.quick else ''}, and 100 files of 4 KiB", "",
             "A process per copy over loopback TCP: `scp FILE HOST:PATH` and back, `scp -r` for the 100 files; "
             "`sftp -b` with `put`, `get`, `put -r` and `get -r`. A copy counts once its size and BLAKE2b digest "
             f"match the original's. `vs {scp}`: how many times as fast as OpenSSH's scp against the same server "
             "(above 1 is faster).", "",
             f"| server | client | {big} up (s) | up MB/s | vs {scp} | {big} down (s) | down MB/s | vs {scp} | "
             f"100 files up (ms) | vs {scp} | 100 files down (ms) | vs {scp} |",
             "| --- | --- |" + " ---: |" * 10]
    for server_name, rows in rows_by_server.items():
        reference = rows.get(scp)
        for name in suite.sftp_clients:
            row = rows.get(name)
            if not row:
                continue
            cells = []
            for direction in ("up", "down"):
                rate = median(row, f"{direction}_mb_per_s")
                cells += [fmt(median(row, f"{direction}_s"), 2), fmt(rate),
                          ratio(rate, median(reference, f"{direction}_mb_per_s"))]
            for direction in ("small_up", "small_down"):
                wall = median(row, f"{direction}_ms")
                cells += [fmt(wall, 0), ratio(median(reference, f"{direction}_ms"), wall)]
            lines.append(f"| {server_name} | {name} | " + " | ".join(cells) + " |")
    return lines


def crypto_table(suite):
    if not hasattr(suite, "crypto_results"):
        return []
    lines = ["## Crypto micro-benchmarks", "", "Crypto paths through src/ssh/crypto/ (Google Benchmark; time per operation, CPU time).", "",
             "| benchmark | time per op | throughput |", "| --- | ---: | ---: |"]
    for entry in suite.crypto_results.get("benchmarks", []):
        if entry.get("error_occurred"):
            lines.append(f"| {entry['name']} | failed: {entry.get('error_message', '')} | |")
            continue
        per_op = f"{entry['cpu_time']:,.2f} {entry['time_unit']}"
        rate = entry.get("bytes_per_second")
        lines.append(f"| {entry['name']} | {per_op} | {fmt(rate / 1e6) + ' MB/s' if rate else ''} |")
    return lines


def machine_description():
    model = "unknown CPU"
    for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    memory = memory_kb("self", "/proc/meminfo", "MemTotal:") // 1024
    return f"{model}, {os.cpu_count()} cores, {memory:,} MiB RAM, Linux {platform.release()}"


def versions(build):
    def out(argv):
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=20)
            return (done.stdout + done.stderr).strip().splitlines()[0]
        except (OSError, IndexError, subprocess.TimeoutExpired):
            return "unknown"
    ssh2 = json.loads((BENCH / "node" / "node_modules" / "ssh2" / "package.json").read_text())["version"]
    commit = out(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
    return (f"coder-runtime {commit}; {out(['ssh', '-V'])}; libssh {out(['pkg-config', '--modversion', 'libssh'])}; "
            f"ssh2 {ssh2} on Node {out(['node', '--version'])}; Botan {botan_version(build)}")


def botan_version(build):
    """The Botan the build linked, as CMake's pkg-config found it."""
    cache = pathlib.Path(build) / "CMakeCache.txt"
    found = re.search(r"^BOTAN_VERSION:INTERNAL=(.*)$", cache.read_text(), re.M) if cache.exists() else None
    return found.group(1) if found else "unknown"


def report(suite, command, started, load_before, elapsed):
    load_after = os.getloadavg()
    lines = [
        "# coder-runtime benchmark results", "",
        f"- Command: `{command}` ({'quick' if suite.quick else 'full'} run, {elapsed / 60:.1f} min, "
        f"{started:%Y-%m-%d %H:%M} UTC)",
        f"- Machine: {machine_description()}; load average {load_before[0]:.2f} before, {load_after[0]:.2f} after",
        f"- Versions: {versions(suite.args.build)}",
        f"- Cipher {CIPHER} for every client unless a table says otherwise, key exchange {KEX} but in the "
        "post-quantum table (libssh and ssh2 do not implement sntrup761x25519-sha512 or mlkem768x25519-sha256); other "
        "algorithms are each client's defaults. Servers reached over loopback TCP through bench/inetd.py (a fresh `sshd -i` or "
        "go_sshd per connection), or as a ProxyCommand behind bench/delay_relay.py.",
        f"- `vs {OURS}`: the client's figure divided by coder-runtime's (for times, above 1 is slower than "
        "coder-runtime; for throughput, above 1 is faster).", "",
    ]
    streams = [m for m in suite.results if m.startswith("stream ")]
    sections = [
        summary_table(suite),
        spread_table(
            suite, "cold", "wall_ms", "(ms)",
            "## Cold connect + auth + exec `true`, one process per command\n\nWall time of the whole process "
            "(Node's includes starting Node) with the server as its ProxyCommand (the shape of `coder ssh --stdio`); "
            "then the same over loopback TCP, and the client's CPU (user + system) in that run.",
            extra=[("wall over TCP (ms, median)", "tcp_wall_ms", 1, True), ("client CPU (ms, median)", "cpu_ms", 1, True)]),
        spread_table(
            suite, "library-cold", "wall_ms", "(ms)",
            "## Cold connect + auth + exec `true` + disconnect inside a running process\n\nWhat a long-lived "
            "program pays per new connection (coder-runtime: the library, dialled as the executable dials), "
            "through a ProxyCommand; the client's CPU per connection (user + system) over loopback TCP, where "
            "no proxy process is started for each connection.",
            extra=[("client CPU per connection, TCP (ms)", "cpu_ms", 2, True)]),
        round_trip_table(
            suite, "round-trips",
            f"## Network round trips of a cold connect + exec\n\nThrough bench/delay_relay.py as ProxyCommand: "
            f"(median wall at {suite.delay:g} ms one-way delay - median at 0) / (2 x {suite.delay:g} ms)."),
        spread_table(
            suite, "warm", "wall_ms", "(ms)",
            "## Warm exec `true` over an established connection\n\nOpenSSH: an `ssh` process per exec through its "
            "ControlMaster (how ssh reuses a connection); the others: a new session channel in the same process.",
            extra=[("client CPU per exec (ms)", "cpu_ms", 2, True)]),
        round_trip_table(suite, "warm-round-trips", "## Network round trips of a warm exec (same relay method)"),
        spread_table(
            suite, "concurrent", "wall_ms", "(ms)",
            f"## {suite.concurrent_n} concurrent execs of `true` on one connection\n\nWall time until all have "
            "exited (OpenSSH: as many `ssh` processes at once on one ControlMaster)."),
    ] + [
        spread_table(
            suite, measurement, "mb_per_s", "(MB/s)",
            f"## Throughput: {suite.stream_size >> 20} MiB of `head -c` from the server, {measurement.split(' ', 1)[1]}"
            "\n\nWall from exec to exit status, over loopback TCP; client CPU per GiB received.",
            extra=[("client CPU (s per GiB)", "cpu_s_per_gib", 2, True)])
        for measurement in streams
    ] + [
        spread_table(
            suite, "idle", "kb", "(kB)",
            f"## Memory per idle connection ({suite.idle_n} connections)\n\nLibraries: RSS growth of one "
            f"process over {suite.idle_n} more authenticated connections, per connection. OpenSSH: one `ssh -N` "
            "process per connection: its RSS (PSS, with shared pages split, in the last column).",
            extra=[("OpenSSH PSS (kB)", "pss_kb", 0, False)]),
        crypto_table(suite),
        post_quantum_table(suite),
        sftp_table(suite),
    ]
    for section in sections:
        if section:
            lines += section + [""]
    if suite.failures:
        lines += ["## Failures", ""] + [f"- {m} / {s} / {p}: {why}" for m, s, p, why in suite.failures] + [""]
    return "\n".join(lines)


def round_trip_count(suite, row):
    at_zero, delayed = median(row, "at_0"), median(row, f"at_{suite.delay:g}")
    return None if at_zero is None or delayed is None else (delayed - at_zero) / (2 * suite.delay)


def plots(suite, out):
    """One grouped bar chart per measurement: servers along x, a bar per client (median, with the
    min-max range where there are several samples)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def spread(key):
        def bar(row):
            values = row.get(key) if row else None
            if not values:
                return None
            mid = statistics.median(values)
            return mid, mid - min(values), max(values) - mid
        return bar

    def count(row):
        trips = round_trip_count(suite, row)
        return None if trips is None else (trips, 0, 0)

    charts = [("cold", spread("wall_ms"), "Cold connect + exec, process per command", "ms"),
              ("library-cold", spread("wall_ms"), "Cold connect + exec inside a running process", "ms"),
              ("round-trips", count, "Round trips, cold connect + exec", "round trips"),
              ("warm", spread("wall_ms"), "Warm exec on an established connection", "ms"),
              ("warm-round-trips", count, "Round trips, warm exec", "round trips"),
              ("concurrent", spread("wall_ms"), "Concurrent execs on one connection", "ms until all exited"),
              ("idle", spread("kb"), "Memory per idle connection", "kB")]
    charts += [(m, spread("mb_per_s"), f"Throughput, {m.split(' ', 1)[1]}", "MB/s")
               for m in suite.results if m.startswith("stream ")]
    written = []
    for measurement, bar, title, unit in charts:
        rows_by_server = suite.results.get(measurement)
        if not rows_by_server:
            continue
        figure, axes = plt.subplots(figsize=(8, 4.5))
        servers = list(rows_by_server)
        width = 0.8 / len(suite.peers)
        for index, peer in enumerate(suite.peers):
            xs, heights, below, above = [], [], [], []
            for position, server in enumerate(servers):
                bars = bar(rows_by_server[server].get(peer.name))
                if bars:
                    xs.append(position + (index - (len(suite.peers) - 1) / 2) * width)
                    heights.append(bars[0])
                    below.append(bars[1])
                    above.append(bars[2])
            spread_bars = [below, above] if any(below + above) else None
            axes.bar(xs, heights, width, yerr=spread_bars, capsize=3, label=peer.name)
        axes.set_xticks(range(len(servers)), servers)
        axes.set_ylabel(unit)
        axes.set_title(title)
        axes.legend()
        figure.tight_layout()
        name = measurement.replace(" ", "-").replace("@openssh.com", "") + ".png"
        figure.savefig(out / name, dpi=110)
        plt.close(figure)
        written.append(name)
    return written


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="fewer iterations, 256 MiB streams, one cipher, 128 MiB SFTP copies")
    parser.add_argument("--only", default=",".join(MEASUREMENTS), help=f"comma-separated subset of {', '.join(MEASUREMENTS)}")
    parser.add_argument("--delay-ms", type=float, default=50)
    parser.add_argument("--build", default=str(ROOT / "build"))
    parser.add_argument("--out", default=str(BENCH / "results"))
    parser.add_argument("--command", default="python3 bench/suite.py", help="how the run was started, for the report")
    args = parser.parse_args()
    chosen = args.only.split(",")
    unknown = set(chosen) - set(MEASUREMENTS)
    if unknown:
        parser.error(f"unknown measurements: {', '.join(sorted(unknown))}")
    # A terminated run still stops its servers (the finally below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    started = datetime.datetime.now(datetime.timezone.utc)
    load_before = os.getloadavg()
    clock = time.monotonic()
    work = pathlib.Path(tempfile.mkdtemp(prefix="coder-runtime-bench-"))
    suite = None
    try:
        log = open(out / "servers.log", "w")
        suite = Suite(args, work, log)
        for name in MEASUREMENTS:
            if name in chosen:
                print(f"bench: {name} ({time.monotonic() - clock:.0f} s so far)", file=sys.stderr)
                getattr(suite, name.replace("-", "_"))()
        text = report(suite, args.command, started, load_before, time.monotonic() - clock)
        (out / "results.md").write_text(text + "\n")
        raw = {"command": args.command, "started": started.isoformat(), "quick": args.quick, "delay_ms": args.delay_ms,
               "samples": suite.results, "crypto": getattr(suite, "crypto_results", None), "failures": suite.failures}
        (out / "results.json").write_text(json.dumps(raw, indent=1) + "\n")
        written = plots(suite, out)
        print(text)
        print(f"bench: wrote {out / 'results.md'} and {', '.join(written)} in {out}", file=sys.stderr)
    finally:
        if suite:
            suite.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
