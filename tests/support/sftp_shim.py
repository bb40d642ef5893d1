#!/usr/bin/env python3
"""A real sftp-server behind a relay that alters its replies, as sshd's sftp subsystem, so that the
client meets misbehaviour a healthy server never shows.

Usage: sftp_shim.py MODE SFTP_SERVER
  short-reads     every DATA reply carries at most 1000 bytes (a short read mid-file)
  no-extensions   VERSION offers no extensions
  die-after-1m    once 1 MiB of DATA has gone out, kills the server and exits with status 3
  killed-after-1m the same, but the relay dies by SIGKILL itself
  unknown-id      the first DATA reply comes back under an id nobody sent
  oversized       the first DATA reply's length field claims 16 MiB
  mute            only VERSION comes through: no request is answered
  handles-only    only VERSION and HANDLE replies come through: every other request goes unanswered
  hold-handle     the first HANDLE reply goes out only just before the server's next reply
  complain        at the first reply after VERSION, says why on stderr, kills the server and exits
                  with status 5
  log-requests:FILE  replies go through untouched; each request's type number is appended to
                  FILE, one line each, as it goes to the server
"""
import os
import signal
import struct
import subprocess
import sys
import threading


def relay_requests(child, log_path):
    log = open(log_path, "a") if log_path else None
    pending = b""
    while True:
        chunk = os.read(0, 65536)
        if not chunk:
            break
        if log:
            pending += chunk
            while len(pending) >= 5:
                (length,) = struct.unpack(">I", pending[:4])
                if len(pending) < 4 + length:
                    break
                log.write(f"{pending[4]}\n")
                log.flush()
                pending = pending[4 + length:]
        child.stdin.write(chunk)
        child.stdin.flush()
    child.stdin.close()


def read_exactly(stream, n):
    data = b""
    while len(data) < n:
        chunk = stream.read(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def main():
    mode, server = sys.argv[1], sys.argv[2]
    child = subprocess.Popen([server], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    log_path = mode.split(":", 1)[1] if mode.startswith("log-requests:") else None
    threading.Thread(target=relay_requests, args=(child, log_path), daemon=True).start()
    out = sys.stdout.buffer
    data_sent = 0
    altered = False
    held = None
    while True:
        header = read_exactly(child.stdout, 4)
        if header is None:
            break
        (length,) = struct.unpack(">I", header)
        body = read_exactly(child.stdout, length)
        if body is None:
            break
        kind = body[0]
        if mode == "mute" and kind != 2:
            continue
        if mode == "handles-only" and kind not in (2, 102):
            continue
        if mode == "complain" and kind != 2:
            sys.stderr.write("sftp_shim: the disk caught fire\n")
            sys.stderr.flush()
            child.kill()
            child.wait()
            os._exit(5)
        if mode == "hold-handle":
            if kind == 102 and not altered:
                altered = True
                held = struct.pack(">I", len(body)) + body
                continue
            if held is not None:
                out.write(held)
                held = None
        if kind == 2 and mode == "no-extensions":
            body = body[:5]
        if kind == 103:
            (request_id, size) = struct.unpack(">II", body[1:9])
            if mode == "short-reads" and size > 1000:
                body = body[:5] + struct.pack(">I", 1000) + body[9:1009]
            elif mode == "unknown-id" and not altered:
                altered = True
                body = body[:1] + struct.pack(">I", request_id + 100000) + body[5:]
            elif mode == "oversized" and not altered:
                altered = True
                out.write(struct.pack(">I", 16 * 1024 * 1024) + body[:64])
                out.flush()
                continue
            data_sent += size
        out.write(struct.pack(">I", len(body)) + body)
        out.flush()
        if mode.endswith("-after-1m") and data_sent >= 1024 * 1024:
            child.kill()
            if mode == "killed-after-1m":
                os.kill(os.getpid(), signal.SIGKILL)
            os._exit(3)
    child.wait()


if __name__ == "__main__":
    main()
