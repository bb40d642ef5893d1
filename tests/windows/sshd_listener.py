#!/usr/bin/env python3
"""A loopback TCP listener for OpenSSH's sshd in inetd mode: each connection gets its own
`sshd -i -f CONFIG`. The port is printed once the socket listens, so whoever starts this knows
when it can connect: no polling, no sleeping.

    sshd_listener.py SSHD_CONFIG   (prints the port; runs until killed)
"""
import socket
import subprocess
import sys

listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(16)
print(listener.getsockname()[1], flush=True)
children = []
try:
    while True:
        connection, _ = listener.accept()
        children.append(subprocess.Popen(["/usr/sbin/sshd", "-i", "-f", sys.argv[1]],
                                         stdin=connection, stdout=connection))
        connection.close()
        children = [child for child in children if child.poll() is None]
finally:
    for child in children:
        child.kill()
