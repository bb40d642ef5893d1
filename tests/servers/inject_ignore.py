#!/usr/bin/env python3
"""A ProxyCommand that relays to `sshd -i` and slips an SSH_MSG_IGNORE into the server's stream
right behind its KEXINIT, still unencrypted: the prefix manipulation of the Terrapin attack
(CVE-2023-48795). A client doing strict kex must refuse the connection.

Usage: inject_ignore.py [--pass] SSHD_COMMAND...   (--pass relays unchanged, as a control)"""
import os
import subprocess
import sys
import threading


def relay_client_to_server(server_stdin):
    while True:
        chunk = os.read(0, 65536)
        if not chunk:
            break
        server_stdin.write(chunk)
        server_stdin.flush()
    server_stdin.close()


def main():
    inject = sys.argv[1] != "--pass"
    command = sys.argv[1:] if inject else sys.argv[2:]
    server = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    threading.Thread(target=relay_client_to_server, args=(server.stdin,), daemon=True).start()
    buffered = b""
    # The version line, then the first packet (KEXINIT): uint32 length and that many bytes.
    while b"\n" not in buffered:
        buffered += server.stdout.read1(65536)
    line_end = buffered.index(b"\n") + 1
    while len(buffered) < line_end + 4:
        buffered += server.stdout.read1(65536)
    first_packet_end = line_end + 4 + int.from_bytes(buffered[line_end:line_end + 4], "big")
    while len(buffered) < first_packet_end:
        buffered += server.stdout.read1(65536)
    # IGNORE (2) with an empty string: packet_length 12, padding_length 6.
    ignore = (12).to_bytes(4, "big") + bytes([6, 2]) + (0).to_bytes(4, "big") + bytes(6)
    os.write(1, buffered[:first_packet_end] + (ignore if inject else b"") + buffered[first_packet_end:])
    while True:
        chunk = server.stdout.read1(65536)
        if not chunk:
            break
        os.write(1, chunk)
    server.wait()


if __name__ == "__main__":
    main()
