#!/usr/bin/python3
"""Forwarded TCP: throughput and added latency per request, `coder-runtime ssh -N -L` beside OpenSSH's `ssh -N -L`.

    python3 bench/forward.py [--quick] [--binary PATH] [--trials N] [--mib N] [--round-trips K]
                             [--connections M]   (bash bench/forward runs this; it builds nothing)

One sshd (Debian's /usr/sbin/sshd -D on a free loopback port, its own config, host key and
authorized key in a temporary folder; publickey auth as bench/suite.py's login user, whose shell
start-up files play no part: -N runs no shell) and a target server in this process (one thread with a
selector, on a free loopback port: a sink that counts an upload and answers when it has it all, a source, and an
echo). Three ways to the target, interleaved per trial so that load drift hits them alike:

  - direct: a plain TCP connection to the target (the baseline);
  - OpenSSH: `ssh -F /dev/null -o ... -N -L LPORT:127.0.0.1:TPORT fwd`;
  - coder-runtime: `coder-runtime ssh -F CONFIG -N -L LPORT:127.0.0.1:TPORT fwd`, CONFIG holding the
    same options as the -o list above.

Each trial starts both forwards afresh, waits for their ports to accept (connect polled against a
deadline), makes one untimed request of each kind per way, then times, the ways in turn (rotated):
(a) throughput: N MiB up to the sink and N MiB down from the source, each over a fresh connection,
MB/s (10^6 bytes per second), with the CPU the forwarding client and its connection's sshd
processes used per GiB; (b) a ping-pong of a 64-byte request and its 64-byte answer over one
connection per way, K round trips in batches of 100 per way in turn: per request median and p99 in
microseconds, and what the forward adds to the direct connection's; (c) a new connection per
request: connect + one 64-byte request and answer + close on a fresh TCP connection (through a
forward, a new direct-tcpip channel), M times in batches of 10 per way in turn. Then stops both
forwards. Writes DIR/forward.md and .json.
Not a test: nothing passes or fails. Stops every process it started, by PID, also on errors.
"""
import argparse
import datetime
import os
import pathlib
import selectors
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from suite import (BENCH, CIPHER, KEX, ROOT, fmt, login_user, machine_description, ratio, rotated,  # noqa: E402
                   running, stop_and_wait, write_report)

DIRECT, OPENSSH, OURS = "direct (no forward)", "OpenSSH ssh -N -L", "coder-runtime ssh -N -L"
WAYS = (DIRECT, OPENSSH, OURS)
MESSAGE = 64  # bytes per ping-pong request and per answer
CHUNK = 1 << 20
BATCH = 100  # ping-pong round trips per way in turn (new connections: a tenth as many)


# ---- the target: in-process threads ------------------------------------------------------------

class Target:
    """A loopback server: one thread, a selector, no thread per connection (whose start would be
    timed in every new connection, and lands late on a busy machine). A connection starts with a
    9-byte header, a kind and a big-endian count: b"U" N: it reads N bytes, then answers with the
    count it read (8 bytes); b"D" N: it writes N bytes, then half-closes; b"P" N: it echoes each
    N-byte message until the client closes."""

    def __init__(self):
        self.payload = memoryview(os.urandom(CHUNK))  # nothing a compressing link could shrink
        self.listener = socket.create_server(("127.0.0.1", 0), backlog=256)
        self.listener.setblocking(False)
        self.port = self.listener.getsockname()[1]
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.listener, selectors.EVENT_READ, None)
        self.wake, self.woken = socket.socketpair()
        self.selector.register(self.woken, selectors.EVENT_READ, "stop")
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    class Peer:
        def __init__(self, connection):
            self.connection, self.header, self.kind, self.count = connection, bytearray(), None, 0
            self.got, self.pending, self.out, self.to_send, self.sent = 0, bytearray(), bytearray(), 0, 0
            self.writing = False

    def serve(self):
        buffer = bytearray(CHUNK)
        while True:
            for key, events in self.selector.select():
                if key.data == "stop":
                    for other in list(self.selector.get_map().values()):
                        other.fileobj.close()
                    self.selector.close()
                    return
                if key.data is None:
                    self.accept()
                    continue
                try:
                    if events & selectors.EVENT_WRITE:
                        self.flush(key.data)
                    if events & selectors.EVENT_READ:
                        self.take(key.data, buffer)
                except OSError:
                    self.drop(key.data)

    def accept(self):
        while True:
            try:
                connection, _ = self.listener.accept()
            except BlockingIOError:
                return
            connection.setblocking(False)
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.selector.register(connection, selectors.EVENT_READ, Target.Peer(connection))

    def drop(self, peer):
        self.selector.unregister(peer.connection)
        peer.connection.close()

    def take(self, peer, buffer):
        n = peer.connection.recv_into(buffer)
        if not n:
            self.drop(peer)  # the client closed (or a readiness probe did)
            return
        data = memoryview(buffer)[:n]
        if peer.kind is None:
            wanted = 9 - len(peer.header)
            peer.header += data[:wanted]
            data = data[wanted:]
            if len(peer.header) < 9:
                return
            peer.kind, peer.count = bytes(peer.header[:1]), int.from_bytes(peer.header[1:], "big")
            if peer.kind == b"D":
                peer.to_send = peer.count
                self.flush(peer)
        if peer.kind == b"U" and peer.got < peer.count:
            peer.got += len(data)
            if peer.got >= peer.count:
                peer.out += peer.got.to_bytes(8, "big")
                self.flush(peer)
        elif peer.kind == b"P" and peer.count:
            peer.pending += data
            whole = len(peer.pending) - len(peer.pending) % peer.count
            if whole:
                peer.out += peer.pending[:whole]
                del peer.pending[:whole]
                self.flush(peer)

    def flush(self, peer):
        """Sends what is queued, then (for D) the payload, as far as the socket takes it; waits for
        writability for the rest."""
        try:
            while peer.out:
                del peer.out[:peer.connection.send(peer.out)]
            while peer.to_send:
                offset = peer.sent % len(self.payload)
                n = peer.connection.send(self.payload[offset:offset + min(peer.to_send, len(self.payload) - offset)])
                peer.to_send -= n
                peer.sent += n
                if not peer.to_send:
                    peer.connection.shutdown(socket.SHUT_WR)
        except BlockingIOError:
            if not peer.writing:
                peer.writing = True
                self.selector.modify(peer.connection, selectors.EVENT_READ | selectors.EVENT_WRITE, peer)
            return
        if peer.writing:
            peer.writing = False
            self.selector.modify(peer.connection, selectors.EVENT_READ, peer)

    def stop(self):
        try:
            self.wake.send(b"x")
        except OSError:
            pass
        self.thread.join(timeout=10)
        self.wake.close()
        self.listener.close()


def receive_exactly(connection, n):
    """n bytes, or None at an end of stream before them."""
    buffer = bytearray(n)
    view, got = memoryview(buffer), 0
    while got < n:
        chunk = connection.recv_into(view[got:])
        if not chunk:
            return None
        got += chunk
    return buffer


def send_payload(connection, payload, count):
    while count:
        n = min(count, len(payload))
        connection.sendall(payload[:n])
        count -= n


def connect(port):
    connection = socket.create_connection(("127.0.0.1", port), timeout=120)
    connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return connection


# ---- processes -----------------------------------------------------------------------------------

def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port, process, what, deadline_s=20, ssh=False):
    """Polls connect until the port accepts; seconds from now until it did. With ssh, until it
    sends an SSH identification, and answers with one (sshd logs a connection closed before one)."""
    started = time.perf_counter()
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as probe:
                if ssh:
                    if not probe.recv(256).startswith(b"SSH-2.0-"):
                        raise OSError("no SSH identification")
                    probe.sendall(b"SSH-2.0-probe\r\n")
                    probe.recv(1 << 16)  # its key exchange init; then we close
            return time.perf_counter() - started
        except OSError:
            pass
        if process.poll() is not None:
            raise Failed(f"{what} exited with {process.returncode} before its port accepted")
        if time.monotonic() > deadline:
            raise Failed(f"{what}'s port {port} did not accept within {deadline_s} s")
        time.sleep(0.005)


def children_of():
    """pid -> its children's PIDs, from /proc."""
    children = {}
    for entry in pathlib.Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    return children


def descendants(pid):
    tree, found, todo = children_of(), [], [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def cpu_seconds(pids):
    """CPU time the live processes among pids have used so far: the sum over their threads of
    /proc's schedstat run time (in ns, unlike utime and stime, which count 10 ms ticks)."""
    total = 0
    for pid in pids:
        try:
            for task in pathlib.Path(f"/proc/{pid}/task").iterdir():
                total += int((task / "schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
    return total / 1e9


class Failed(Exception):
    pass


class Bench:
    def __init__(self, args, work, log):
        self.args, self.work, self.log = args, work, log
        self.processes = []  # Popen of everything started here that is still to be stopped
        self.sshd = None
        self.target = Target()
        for key in ("host", "id"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(work / key)], check=True)
        (work / "authorized_keys").write_text((work / "id.pub").read_text())
        work.chmod(0o755)  # sshd reads authorized_keys as the user logging in
        (work / "authorized_keys").chmod(0o644)
        self.user = login_user()
        self.sshd_port = free_port()
        (work / "sshd_config").write_text(
            f"ListenAddress 127.0.0.1\nPort {self.sshd_port}\nHostKey {work}/host\nPidFile none\nUsePAM no\n"
            f"StrictModes no\nLogLevel ERROR\nAuthorizedKeysFile {work}/authorized_keys\nAllowTcpForwarding yes\n"
            "MaxStartups 100\n")
        self.sshd = self.start(["/usr/sbin/sshd", "-D", "-e", "-f", str(work / "sshd_config")])
        try:
            wait_for_port(self.sshd_port, self.sshd, "sshd", ssh=True)
        except BaseException:
            self.stop()
            raise
        host_key = (work / "host.pub").read_text().split()
        (work / "known_hosts").write_text(f"[127.0.0.1]:{self.sshd_port} {host_key[0]} {host_key[1]}\n")
        # The same options for both clients: ssh gets them as -o (and no config file), we as a config.
        options = [("HostName", "127.0.0.1"), ("Port", self.sshd_port), ("User", self.user),
                   ("IdentityFile", work / "id"), ("IdentitiesOnly", "yes"), ("IdentityAgent", "none"),
                   ("UserKnownHostsFile", work / "known_hosts"), ("StrictHostKeyChecking", "yes"),
                   ("BatchMode", "yes"), ("LogLevel", "ERROR"), ("Ciphers", args.cipher), ("KexAlgorithms", KEX),
                   ("ExitOnForwardFailure", "yes"), ("ControlMaster", "no"), ("ControlPath", "none")]
        (work / "ssh_config").write_text("Host fwd\n" + "".join(f"  {k} {v}\n" for k, v in options))
        self.argv = {OPENSSH: ["ssh", "-F", "/dev/null"] + [w for k, v in options for w in ("-o", f"{k}={v}")],
                     OURS: [args.binary, "ssh", "-F", str(work / "ssh_config")]}
        os.environ["XDG_CACHE_HOME"] = str(work / "cache")  # coder-runtime's remembered choices: the run's own
        os.environ["XDG_RUNTIME_DIR"] = str(work / "run")
        (work / "run").mkdir(mode=0o700)
        self.samples = {way: {} for way in WAYS}
        self.message = os.urandom(MESSAGE)

    def start(self, argv):
        process = subprocess.Popen([str(word) for word in argv], stdin=subprocess.DEVNULL, stdout=self.log,
                                   stderr=self.log)
        self.processes.append(process)
        return process

    def stop_process(self, process):
        """SIGTERM by PID, then SIGKILL if it lingers; reaped."""
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process in self.processes:
            self.processes.remove(process)

    def stop(self):
        sshd_children = descendants(self.sshd.pid) if self.sshd else []
        for process in list(reversed(self.processes)):
            self.stop_process(process)
        stop_and_wait([pid for pid in sshd_children if running(pid)])
        self.target.stop()

    def record(self, way, **values):
        for key, value in values.items():
            self.samples[way].setdefault(key, []).extend(value if isinstance(value, list) else [value])

    # ---- the measurements ---------------------------------------------------------------------

    def trial(self, number):
        """Starts both forwards afresh, then measures the three ways in turn, a batch at a time
        (rotated), so that the other engineer's load, or any drift, hits them alike."""
        ways = rotated(list(WAYS), number)
        ports, forwards, sshd_of, failed = {DIRECT: self.target.port}, {}, {}, {}

        def attempt(way, body):
            if way in failed:
                return
            try:
                body()
            except (Failed, OSError) as failure:
                print(f"  {way}: FAILED: {failure}", file=sys.stderr)
                failed[way] = f"{way}, trial {number + 1}: {failure}"

        def watched(way):
            """The forwarding client's PID and its sshd processes' (none for direct)."""
            return ([forwards[way].pid], sshd_of[way]) if way in forwards else ([], [])

        try:
            for way in ways:
                if way == DIRECT:
                    continue

                def start(way=way):
                    before = set(descendants(self.sshd.pid))
                    ports[way] = free_port()
                    forwards[way] = self.start(self.argv[way] + ["-N", "-L",
                                                                 f"{ports[way]}:127.0.0.1:{self.target.port}", "fwd"])
                    self.record(way, ready_ms=wait_for_port(ports[way], forwards[way], way) * 1000)
                    # A request first: sshd forks the connection's post-auth process once auth is done,
                    # which may be just after the port accepts.
                    self.ping_pong_batches(ports[way], 1)
                    sshd_of[way] = [pid for pid in descendants(self.sshd.pid) if pid not in before]
                attempt(way, start)
            for way in ways:
                # Untimed: one request of each kind (the first channel, page cache, sshd's first child).
                def warm(way=way):
                    self.upload(ports[way], 1 << 20, watched(way))
                    self.download(ports[way], 1 << 20, watched(way))
                    self.ping_pong_batches(ports[way], 1, 20)
                    self.new_connections(ports[way], 3)
                attempt(way, warm)
            size = self.args.mib << 20
            for direction, transfer in (("up", self.upload), ("down", self.download)):
                for way in ways:
                    def moved(way=way, direction=direction, transfer=transfer):
                        wall, client_cpu, sshd_cpu = transfer(ports[way], size, watched(way))
                        self.record(way, **{f"{direction}_mb_per_s": size / wall / 1e6})
                        if way in forwards:
                            self.record(way, **{f"{direction}_client_cpu_s_per_gib": client_cpu * (1 << 30) / size,
                                                f"{direction}_sshd_cpu_s_per_gib": sshd_cpu * (1 << 30) / size})
                    attempt(way, moved)
            # Ping-pong: one connection per way, batches of BATCH round trips in turn.
            connections, walls = {}, {way: [] for way in ways}
            try:
                for way in ways:
                    def open_one(way=way):
                        connections[way] = self.ping_pong_connection(ports[way])
                    attempt(way, open_one)
                for index in range(0, self.args.round_trips, BATCH):
                    for way in rotated(ways, index // BATCH):
                        if way in connections:
                            attempt(way, lambda way=way: walls[way].extend(self.ping_pong_batches(
                                connections[way], min(BATCH, self.args.round_trips - index))))
            finally:
                for connection in connections.values():
                    connection.close()
            self.record_trial(ways, failed, walls, "round_trip")
            walls = {way: [] for way in ways}
            cpu = {way: [0.0, 0.0] for way in ways}  # the client's and sshd's over the new connections

            def new_batch(way, count):
                client, sshd = watched(way)
                before = (cpu_seconds(client), cpu_seconds(sshd))
                walls[way].extend(self.new_connections(ports[way], count))
                cpu[way][0] += cpu_seconds(client) - before[0]
                cpu[way][1] += cpu_seconds(sshd) - before[1]
            for index in range(0, self.args.connections, BATCH // 10):
                for way in rotated(ways, index):
                    attempt(way, lambda way=way: new_batch(way, min(BATCH // 10, self.args.connections - index)))
            self.record_trial(ways, failed, walls, "new_connection")
            for way in forwards:
                if way not in failed and walls[way]:
                    self.record(way, new_connection_client_cpu_us=cpu[way][0] * 1e6 / len(walls[way]),
                                new_connection_sshd_cpu_us=cpu[way][1] * 1e6 / len(walls[way]))
            for way, forward in forwards.items():
                if forward.poll() is not None and way not in failed:
                    failed[way] = f"{way}, trial {number + 1}: exited with {forward.returncode} during the trial"
        finally:
            for forward in forwards.values():
                self.stop_process(forward)
        return list(failed.values())

    def record_trial(self, ways, failed, walls, key):
        """A trial's walls (us) of ways that did not fail, their median, and a forward's median minus
        the direct connection's in the same trial (a paired difference: load drift between trials
        cancels)."""
        medians = {way: statistics.median(walls[way]) for way in ways if way not in failed and walls[way]}
        for way, middle_us in medians.items():
            self.record(way, **{f"{key}_us": walls[way], f"{key}_trial_median_us": middle_us})
            if way != DIRECT and DIRECT in medians:
                self.record(way, **{f"{key}_added_us": middle_us - medians[DIRECT]})

    def transfer(self, port, body, watched):
        """Times body(connection) on a fresh connection; (wall s, client CPU s, sshd CPU s)."""
        client, sshd = watched  # sshd's processes for the forward's connection, there all along
        cpu_before = (cpu_seconds(client), cpu_seconds(sshd))
        with connect(port) as connection:
            started = time.perf_counter()
            body(connection)
            wall = time.perf_counter() - started
        return wall, cpu_seconds(client) - cpu_before[0], cpu_seconds(sshd) - cpu_before[1]

    def upload(self, port, size, watched):
        def body(connection):
            connection.sendall(b"U" + size.to_bytes(8, "big"))
            send_payload(connection, self.target.payload, size)
            answer = receive_exactly(connection, 8)
            got = int.from_bytes(answer, "big") if answer else 0
            if got != size:
                raise Failed(f"the sink received {got} bytes of {size}")
        return self.transfer(port, body, watched)

    def download(self, port, size, watched):
        def body(connection):
            connection.sendall(b"D" + size.to_bytes(8, "big"))
            buffer, got = bytearray(CHUNK), 0
            while got < size:
                n = connection.recv_into(buffer)
                if not n:
                    break
                got += n
            if got != size:
                raise Failed(f"received {got} bytes of {size}")
        return self.transfer(port, body, watched)

    def ping_pong_connection(self, port):
        connection = connect(port)
        connection.sendall(b"P" + MESSAGE.to_bytes(8, "big"))
        self.ping_pong_batches(connection, 20)  # untimed
        return connection

    def ping_pong_batches(self, connection, count, untimed=0):
        """count round trips of a MESSAGE-byte request and its answer on connection (a port: a new
        connection, and untimed round trips first); each one's wall in microseconds."""
        if isinstance(connection, int):
            with self.ping_pong_connection(connection) as fresh:
                return self.ping_pong_batches(fresh, count, untimed)
        message, walls = self.message, []
        for index in range(untimed + count):
            started = time.perf_counter_ns()
            connection.sendall(message)
            if receive_exactly(connection, MESSAGE) != message:
                raise Failed("the echo differed from the request")
            if index >= untimed:
                walls.append((time.perf_counter_ns() - started) / 1000)
        return walls

    def new_connections(self, port, count):
        """count times: connect, one request and its answer, close; each one's wall in microseconds."""
        message, walls = self.message, []
        request = b"P" + MESSAGE.to_bytes(8, "big") + message
        for _ in range(count):
            started = time.perf_counter_ns()
            with connect(port) as connection:
                connection.sendall(request)
                if receive_exactly(connection, MESSAGE) != message:
                    raise Failed("the echo differed from the request")
                walls.append((time.perf_counter_ns() - started) / 1000)
        return walls


# ---- the report ------------------------------------------------------------------------------------

def percentile(values, p):
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


def middle(values):
    return statistics.median(values) if values else None


def spread(values, digits):
    """median (min-max) of per-trial figures."""
    if not values:
        return "n/a"
    if len(values) == 1:
        return fmt(values[0], digits)
    return f"{fmt(statistics.median(values), digits)} ({fmt(min(values), digits)}-{fmt(max(values), digits)})"


def table(samples):
    """The report's rows: a cell per way, then coder-runtime's figure over OpenSSH's."""
    def figure(way, key, how=None):
        values = samples[way].get(key)
        return (how or middle)(values) if values else None

    def row(label, key, digits, how=None, show=None):
        values = [figure(way, key, how) for way in WAYS]
        cells = []
        for way, value in zip(WAYS, values):
            cell = show(way) if show else None  # None: the figure itself
            cells.append(cell if cell is not None else "-" if value is None and way == DIRECT else fmt(value, digits))
        return f"| {label} | " + " | ".join(cells) + f" | {ratio(values[2], values[1])} |"

    def per_trial(key, digits):
        """median (min-max) of per-trial figures."""
        return lambda way: "-" if way == DIRECT and not samples[way].get(key) else spread(samples[way].get(key), digits)

    def pooled_with_trials(key, digits):
        """The median of every sample, and (min-max) of the trials' medians."""
        def show(way):
            values, trials = samples[way].get(key), samples[way].get(key.replace("_us", "_trial_median_us"))
            if not values:
                return "n/a"
            text = fmt(statistics.median(values), digits)
            return text + (f" ({fmt(min(trials), digits)}-{fmt(max(trials), digits)})" if len(trials or []) > 1 else "")
        return show

    def p99_added(key):
        direct = percentile(samples[DIRECT].get(key), 99)
        return lambda values: None if direct is None else percentile(values, 99) - direct

    p99 = lambda values: percentile(values, 99)  # noqa: E731
    return [
        row("upload, MB/s: median (min-max of trials)", "up_mb_per_s", 0, show=per_trial("up_mb_per_s", 0)),
        row("download, MB/s: median (min-max of trials)", "down_mb_per_s", 0, show=per_trial("down_mb_per_s", 0)),
        row(f"ping-pong, {MESSAGE} B each way, per request: median (min-max of trial medians), us", "round_trip_us", 1,
            show=pooled_with_trials("round_trip_us", 1)),
        row("ping-pong, per request: p99, us", "round_trip_us", 1, how=p99),
        row("ping-pong: added by the forward, median of per-trial (median - direct's), us", "round_trip_added_us", 1,
            show=per_trial("round_trip_added_us", 1)),
        row("ping-pong: added by the forward, best trial (lowest median - direct's), us", "round_trip_added_us", 1,
            how=min),
        row("ping-pong: added by the forward at p99 (p99 - direct's p99), us", "round_trip_us", 1,
            how=p99_added("round_trip_us"), show=lambda way: "-" if way == DIRECT else None),
        row("new connection + 1 request: median (min-max of trial medians), us", "new_connection_us", 0,
            show=pooled_with_trials("new_connection_us", 0)),
        row("new connection + 1 request: p99, us", "new_connection_us", 0, how=p99),
        row("new connection: added by the forward, median of per-trial (median - direct's), us",
            "new_connection_added_us", 0, show=per_trial("new_connection_added_us", 0)),
        row("new connection: added by the forward, best trial (lowest median - direct's), us",
            "new_connection_added_us", 0, how=min),
        row("new connection: added by the forward at p99 (p99 - direct's p99), us", "new_connection_us", 0,
            how=p99_added("new_connection_us"), show=lambda way: "-" if way == DIRECT else None),
        row("forwarding client CPU per new connection, us", "new_connection_client_cpu_us", 0,
            show=per_trial("new_connection_client_cpu_us", 0)),
        row("sshd CPU per new connection, us", "new_connection_sshd_cpu_us", 0,
            show=per_trial("new_connection_sshd_cpu_us", 0)),
        row("forwarding client CPU, upload (s per GiB)", "up_client_cpu_s_per_gib", 2,
            show=per_trial("up_client_cpu_s_per_gib", 2)),
        row("forwarding client CPU, download (s per GiB)", "down_client_cpu_s_per_gib", 2,
            show=per_trial("down_client_cpu_s_per_gib", 2)),
        row("sshd CPU, upload (s per GiB)", "up_sshd_cpu_s_per_gib", 2, show=per_trial("up_sshd_cpu_s_per_gib", 2)),
        row("sshd CPU, download (s per GiB)", "down_sshd_cpu_s_per_gib", 2, show=per_trial("down_sshd_cpu_s_per_gib", 2)),
        row("start until the local port accepts, ms", "ready_ms", 0, show=per_trial("ready_ms", 0)),
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 trials of 64 MiB, 500 round trips, 50 connections")
    parser.add_argument("--binary", default=str(ROOT / "build" / "coder-runtime"),
                        help="the coder-runtime executable (with its coder-runtime-full beside it)")
    parser.add_argument("--trials", type=int, default=None, help="default 10 (2 with --quick)")
    parser.add_argument("--mib", type=int, default=None, help="MiB per throughput transfer; default 256 (64 with --quick)")
    parser.add_argument("--round-trips", type=int, default=None, help="ping-pong round trips per trial; default 2000 "
                        "(500 with --quick)")
    parser.add_argument("--connections", type=int, default=None, help="new connections per trial; default 200 "
                        "(50 with --quick)")
    parser.add_argument("--cipher", default=CIPHER)
    parser.add_argument("--out", default=str(BENCH / "results"))
    parser.add_argument("--command", default="python3 bench/forward.py", help="how the run was started, for the report")
    args = parser.parse_args()
    for name, full, quick in (("trials", 10, 2), ("mib", 256, 64), ("round_trips", 2000, 500), ("connections", 200, 50)):
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
    binary = pathlib.Path(args.binary)
    if not binary.exists():
        raise SystemExit(f"{binary} is missing: build it (cmake --build build --target coder-runtime) or pass --binary")
    # A terminated run still stops what it started (the finally below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = datetime.datetime.now(datetime.timezone.utc)
    load_before = os.getloadavg()
    clock = time.monotonic()
    failures = []
    work = pathlib.Path(tempfile.mkdtemp(prefix="coder-runtime-forward-"))
    bench = None
    try:
        log = open(work / "processes.log", "w")
        bench = Bench(args, work, log)
        for trial in range(args.trials):
            print(f"bench: trial {trial + 1}/{args.trials} ({time.monotonic() - clock:.0f} s so far)", file=sys.stderr)
            failures += bench.trial(trial)
        log.flush()
        logged = (work / "processes.log").read_text().strip()
        if logged:
            failures.append("the processes' stderr: " + " / ".join(logged.splitlines()[-10:]))
        elapsed = time.monotonic() - clock
        load_after = os.getloadavg()
        version = subprocess.run([args.binary, "version"], capture_output=True, text=True).stdout.strip()
        commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True).stdout.strip()
        openssh = subprocess.run(["ssh", "-V"], capture_output=True, text=True).stderr.strip()
        lines = ["# Forwarded TCP: `coder-runtime ssh -N -L` beside OpenSSH's `ssh -N -L`", "",
                 f"- Command: `{args.command}` ({'quick' if args.quick else 'full'} run, {elapsed / 60:.1f} min, "
                 f"{started:%Y-%m-%d %H:%M} UTC)",
                 f"- Machine: {machine_description()}; load average {load_before[0]:.2f} before, "
                 f"{load_after[0]:.2f} after",
                 f"- Versions: {version or 'coder-runtime (no version)'} ({args.binary}, tree at {commit}); {openssh}; "
                 "sshd: Debian's /usr/sbin/sshd",
                 f"- Route: this process -> 127.0.0.1:LPORT -> the client -> sshd (loopback, {args.cipher}, {KEX}) -> "
                 "127.0.0.1:TPORT, a target served by one thread (a selector) of this process; direct: straight to TPORT. The same "
                 "client options for both (ssh: -o, ours: a config file). "
                 f"{args.trials} trials; each starts both forwards afresh, makes one untimed request of each kind per "
                 "way, then measures the three ways in turn (rotated): each transfer, ping-pong batches of "
                 f"{BATCH} round trips, new connections in batches of {BATCH // 10}.",
                 f"- Throughput: {args.mib} MiB each way per trial over a fresh connection, MB/s = 10^6 bytes/s, "
                 "from the request to the sink's answer (up) or the last byte (down). CPU: run time (/proc's "
                 "schedstat) of the forwarding client and of sshd's processes for its connection, per GiB moved; "
                 "per new connection likewise, over a trial's connections.",
                 f"- Ping-pong: {args.round_trips} round trips of {MESSAGE} bytes each way per trial on one "
                 f"connection, pooled over trials; added: minus the direct connection's figure. New connection: "
                 f"{args.connections} per trial, connect + {MESSAGE}-byte request + answer + close (through a "
                 "forward: a new direct-tcpip channel on the forward's SSH connection).",
                 "- Latency can be bimodal per trial: on the 2-core VM this was written on, each forward settled for a "
                 "whole trial at about 50 or about 150 us added per round trip, both clients alike, the CPU per new "
                 "connection following. The min-max of trial medians shows it; the best-trial rows compare like "
                 "with like.",
                 f"- `coder-runtime / ssh`: coder-runtime's figure divided by OpenSSH's (throughput: above 1 is faster; "
                 "times and CPU: above 1 is slower). The target and the timing client are Python, which bounds the "
                 "direct figures.", "",
                 f"| measure | {' | '.join(WAYS)} | coder-runtime / ssh |",
                 "| --- |" + " ---: |" * (len(WAYS) + 1)] + table(bench.samples)
        write_report(args.out, "forward", lines, failures,
                     {"command": args.command, "started": started.isoformat(), "quick": args.quick,
                      "binary": args.binary, "cipher": args.cipher, "mib": args.mib, "round_trips": args.round_trips,
                      "connections": args.connections, "trials": args.trials, "samples": bench.samples})
    finally:
        if bench:
            bench.stop()
        leftovers = [pid for pid in all_mentioning(str(work)) if pid != os.getpid()]
        stop_and_wait(leftovers)
        subprocess.run(["rm", "-rf", str(work)])


def all_mentioning(text):
    """Live processes whose argv mentions text (this run's folder): what a failure could leave."""
    found = []
    for entry in pathlib.Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if text.encode() in (entry / "cmdline").read_bytes() and running(int(entry.name)):
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


if __name__ == "__main__":
    main()
