#!/usr/bin/env python3
"""A loopback listener that serves each connection with a fresh server in inetd mode.

    inetd.py PORT_FILE COMMAND...

Listens on a free 127.0.0.1 port, writes the port number to PORT_FILE once listening, and for
every accepted connection starts COMMAND with the socket as its stdin and stdout (`sshd -i`, or
tests/servers/go_sshd, which serves stdin/stdout): both benchmark servers reached over TCP the
same way, as a ProxyCommand reaches them through stdio. Runs until terminated.
"""
import os
import socket
import subprocess
import sys


def main():
    port_file, command = sys.argv[1], sys.argv[2:]
    listener = socket.create_server(("127.0.0.1", 0), backlog=128)
    temporary = port_file + ".tmp"
    with open(temporary, "w") as out:
        out.write(str(listener.getsockname()[1]))
    os.rename(temporary, port_file)
    while True:
        connection, _ = listener.accept()
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        subprocess.Popen(command, stdin=connection, stdout=connection, close_fds=True)
        connection.close()
        reap_finished()


# Not SIGCHLD's SIG_IGN: it would be inherited across exec, and the servers could then not wait for
# their commands' exit statuses.
def reap_finished():
    try:
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass
    except ChildProcessError:
        pass


if __name__ == "__main__":
    main()
