#!/usr/bin/env python3
"""A ProxyCommand wrapper that injects at most one fault into the connection it relays.

    fault_relay.py CONTROL LOG COMMAND...

Runs COMMAND (a server in inetd mode) and relays our stdin to it and its stdout to ours. CONTROL is
a JSON file: {"rate": 0.3, "kinds": ["cut_up", ...], "seed": 1}, read at the start and again
whenever it changes (a connection made before the load began gets its draw when the load begins).
The connection's bytes are drawn for in windows of `min_offset` (default 0) to `max_offset` (default
60000) bytes: each window holds, with probability `rate`, one fault of a kind drawn from `kinds` at
its end, and the connection's first fault is its last (it ends the connection, or taints it). With
"claim": PATH, only the one relay that removes PATH first draws faults; the others relay cleanly:

  cut_up, cut_down   the relay ends both directions there, as a dropped tunnel does
  flip_down          one bit of that byte, server to client, is flipped
  exit               the relay prints a line on stderr and exits with status 3 there (downstream)
  stall_down         nothing more goes server to client; the relay stays until the client leaves
  stall_up           nothing more is read from the client (its writes back up); likewise
  delay              every chunk of the window waits 10 ms each way

One JSON line per connection goes to LOG when it ends: the faults it got (delayed windows, and the
one that ended or tainted it, with its offset and direction), the bytes relayed each way, and each
way's cleartext layout: where its version line and each packet up to its NEWKEYS end, with the
packet's message number (what follows is encrypted). Used by bench/soak.py, and by the tests of a
command on a connection that stops answering, whose fault offsets assume a layout.
"""
import asyncio
import ctypes
import json
import os
import random
import signal
import sys
import time

PR_SET_PDEATHSIG = 1
KINDS = ("cut_up", "cut_down", "flip_down", "exit", "stall_down", "stall_up", "delay")


class Layout:
    """Where one direction's version line and its packets up to NEWKEYS end: [[offset, "version" or
    message number], ...]."""

    def __init__(self):
        self.ends = []
        self.pending = b""
        self.start = 0  # the offset of pending's first byte
        self.done = False

    def feed(self, chunk):
        if self.done:
            return
        self.pending += chunk
        while not self.done:
            if not self.ends:
                size, kind = self.pending.find(b"\n") + 1, "version"
                if size == 0:
                    return
            else:
                if len(self.pending) < 6:
                    return
                size, kind = 4 + int.from_bytes(self.pending[:4], "big"), self.pending[5]
                if len(self.pending) < size:
                    return
                self.done = kind == 21  # NEWKEYS: encrypted from here
            self.start += size
            self.pending = self.pending[size:]
            self.ends.append([self.start, kind])


class Plan:
    def __init__(self, control_path):
        self.control_path = control_path
        self.control_stamp = None
        self.control = {}
        self.kind, self.offset, self.direction = "none", 0, "down"
        self.fired = False
        self.claimed = None  # whether this relay took the control's claim, once it has tried
        self.delayed_windows = 0
        self.relayed = {"up": 0, "down": 0}
        self.layout = {"up": Layout(), "down": Layout()}
        self.refresh()

    def refresh(self):
        """Draws again when the control file has changed (looked at before every chunk) or a clean
        window has passed; a fault that has fired stays."""
        if self.fired:
            return
        changed = False
        stamp = os.stat(self.control_path).st_mtime_ns
        if stamp != self.control_stamp:
            self.control_stamp = stamp
            try:
                with open(self.control_path) as file:
                    self.control = json.load(file)
                changed = True
            except ValueError:  # written in place by hand: the last whole one stands
                pass
        window_over = self.kind in ("none", "delay") and self.relayed["down"] >= self.offset
        if not changed and not window_over:
            return
        control = self.control
        if "claim" in control and self.claimed is None:
            try:
                os.remove(control["claim"])
                self.claimed = True
            except FileNotFoundError:
                self.claimed = False
        rng = random.Random(f"{control.get('seed', 0)}:{os.getpid()}:{time.time_ns()}")
        eligible = "claim" not in control or self.claimed
        kinds = [kind for kind in control.get("kinds", KINDS) if kind in KINDS] if eligible else []
        self.kind = rng.choice(kinds) if kinds and rng.random() < control.get("rate", 0) else "none"
        self.direction = "up" if self.kind in ("cut_up", "stall_up") else "down"
        low = control.get("min_offset", 0)
        self.offset = self.relayed[self.direction] + rng.randrange(low, max(low, control.get("max_offset", 60000)) + 1)
        if self.kind == "delay":
            self.delayed_windows += 1

    def record(self):
        return {"fault": self.kind if self.fired else None, "offset": self.offset if self.fired else None,
                "direction": self.direction, "delayed_windows": self.delayed_windows, "relayed": self.relayed,
                "layout": {direction: layout.ends for direction, layout in self.layout.items()}}


async def pump(plan, direction, reader, write, close):
    """Relays until EOF or the fault ends this direction; returns why it stopped."""
    try:
        return await relay(plan, direction, reader, write, close)
    except (OSError, ConnectionError):  # the other side has gone
        return "eof"


async def relay(plan, direction, reader, write, close):
    while True:
        chunk = await reader.read(65536)
        if not chunk:
            close()
            return "eof"
        plan.refresh()
        if plan.kind == "delay":
            await asyncio.sleep(0.01)
        start = plan.relayed[direction]
        at = plan.offset - start
        armed = plan.kind not in ("none", "delay") and plan.direction == direction
        if armed and 0 <= at < len(chunk):
            plan.fired = True
            if plan.kind == "flip_down":
                chunk = chunk[:at] + bytes([chunk[at] ^ 0x10]) + chunk[at + 1:]
            else:
                if at:
                    await write(chunk[:at])
                plan.layout[direction].feed(chunk[:at])
                plan.relayed[direction] += at
                return plan.kind
        await write(chunk)
        plan.layout[direction].feed(chunk)
        plan.relayed[direction] += len(chunk)


async def main():
    control_path, log_path, command = sys.argv[1], sys.argv[2], sys.argv[3:]
    # A stalled relay waits for its client: if the client dies instead, the relay goes too.
    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    plan = Plan(control_path)

    def log_record():
        with open(log_path, "a") as log:
            log.write(json.dumps(plan.record()) + "\n")

    child = await asyncio.create_subprocess_exec(*command, stdin=asyncio.subprocess.PIPE,
                                                 stdout=asyncio.subprocess.PIPE)

    # A client that has given up on a stalled connection ends its proxy with SIGTERM: the server
    # goes with it, and the record still goes out.
    def terminated():
        if child.returncode is None:
            child.kill()
        log_record()
        os._exit(143)

    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, terminated)
    stdin = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)

    async def to_child(chunk):
        child.stdin.write(chunk)
        await child.stdin.drain()

    async def to_parent(chunk):
        os.write(sys.stdout.fileno(), chunk)

    up = asyncio.create_task(pump(plan, "up", stdin, to_child, child.stdin.close))
    down = asyncio.create_task(pump(plan, "down", child.stdout, to_parent, lambda: None))
    status = 0
    pending = {up, down}
    while pending:
        done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        reasons = {task.result() for task in done}
        if "stall_down" in reasons:
            continue  # the client gets nothing more; the relay waits for it to leave
        if "stall_up" in reasons:
            if down in pending:  # nothing more is read from the client, until the server ends
                await down
            break
        if "exit" in reasons:
            print("fault relay: exiting mid-stream (injected fault)", file=sys.stderr, flush=True)
            status = 3
        break
    for task in pending:
        task.cancel()
    if child.returncode is None:
        child.kill()
    await child.wait()
    log_record()
    os._exit(status)


if __name__ == "__main__":
    asyncio.run(main())
