#!/usr/bin/env python3
"""Drives `coder-runtime.exe serve --stdio` (under Wine) as a host would: frames on its stdin and
stdout, an initialize, a connections.list, an exec in workspace "ws" through the Coder CLI
stand-in (its stdout from data frames), then the end of its stdin, which must end it.
Prints one line with the answers, the command's output and the exit status; every wait is bounded.
Usage: serve_stdio.py CODER COMMAND...   (e.g. 'Z:\\...\\coder.exe' wine .../coder-runtime.exe)"""
import json
import select
import struct
import subprocess
import sys
import time

DEADLINE = time.monotonic() + 60
coder = sys.argv[1]
service = subprocess.Popen(sys.argv[2:] + ["serve", "--stdio"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
received = b""
output = {}  # (handle, stream) -> bytes from data frames


def read_exactly(size):
    global received
    while len(received) < size:
        left = DEADLINE - time.monotonic()
        ready, _, _ = select.select([service.stdout], [], [], max(left, 0))
        if not ready:
            sys.exit("serve_stdio: no answer within the deadline")
        chunk = service.stdout.read1(65536)
        if not chunk:
            sys.exit(f"serve_stdio: its stdout ended; received {received!r}")
        received += chunk
    taken, received = received[:size], received[size:]
    return taken


def call(request_id, method, params):
    body = json.dumps({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}).encode()
    service.stdin.write(struct.pack(">IB", len(body) + 1, 0) + body)
    service.stdin.flush()
    while True:
        length = struct.unpack(">I", read_exactly(4))[0]
        frame = read_exactly(length)
        if frame[0] == 1:
            handle, stream = struct.unpack(">IB", frame[1:6])
            output[(handle, stream)] = output.get((handle, stream), b"") + frame[6:]
        if frame[0] == 0:
            message = json.loads(frame[1:])
            if message.get("id") == request_id:
                return json.dumps(message.get("result", message.get("error")), separators=(",", ":"), sort_keys=True)


hello = call(1, "initialize", {"client": "serve_stdio.py"})
listed = call(2, "connections.list", {})
ran = json.loads(call(3, "exec", {"handle": 1, "workspace": "ws", "command": "echo served", "remote_shell": "cmd",
                                  "coder": coder}))
ran.pop("duration_ms", None)
served = output.get((1, 1), b"").decode(errors="replace").strip()
service.stdin.close()
try:
    status = service.wait(timeout=max(DEADLINE - time.monotonic(), 1))
except subprocess.TimeoutExpired:
    service.kill()
    sys.exit("serve_stdio: it did not end after its stdin did")
print(f"initialize: {hello} connections: {listed} exec: {json.dumps(ran, sort_keys=True)} stdout: {served!r} exit: {status}")
