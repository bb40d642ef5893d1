#!/usr/bin/env python3
"""A ProxyCommand wrapper that delays every chunk by a fixed one-way delay in each direction.

    delay_relay.py MILLISECONDS COMMAND...

Runs COMMAND (a server in inetd mode, or another ProxyCommand) and relays our stdin to it and its
stdout to ours, each chunk released DELAY after it arrived, in order. With the same server at
delay D and at 0, (time(D) - time(0)) / 2D is the number of round trips a client waited for.
When the client closes its end, the relay ends at once, as a closed socket does not wait for its
peer: a client that waits for its ProxyCommand to exit is not charged a round trip for teardown.
"""
import asyncio
import os
import sys


async def pump(reader, write, close, delay, linger=True):
    loop = asyncio.get_running_loop()
    queue = asyncio.Queue()

    async def release():
        while True:
            due, chunk = await queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if chunk is None:
                close()
                return
            await write(chunk)

    releaser = asyncio.create_task(release())
    while True:
        chunk = await reader.read(65536)
        if not chunk and not linger:
            releaser.cancel()
            close()
            return
        queue.put_nowait((loop.time() + delay, chunk or None))
        if not chunk:
            break
    await releaser


async def main():
    delay = float(sys.argv[1]) / 1000.0
    child = await asyncio.create_subprocess_exec(*sys.argv[2:], stdin=asyncio.subprocess.PIPE,
                                                 stdout=asyncio.subprocess.PIPE)
    loop = asyncio.get_running_loop()
    stdin = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)

    async def to_child(chunk):
        child.stdin.write(chunk)
        await child.stdin.drain()

    async def to_parent(chunk):
        os.write(sys.stdout.fileno(), chunk)

    upstream = asyncio.create_task(pump(stdin, to_child, child.stdin.close, delay, linger=False))
    downstream = asyncio.create_task(pump(child.stdout, to_parent, lambda: os.close(sys.stdout.fileno()), delay))
    await asyncio.wait({upstream, downstream}, return_when=asyncio.FIRST_COMPLETED)
    for task in (upstream, downstream):
        task.cancel()
    if child.returncode is None:
        child.terminate()
    await child.wait()


if __name__ == "__main__":
    asyncio.run(main())
