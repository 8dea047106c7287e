#!/usr/bin/python3
"""WebSocket peers for test_proxy_tunnel.c, built on Debian's python3-websockets.

  proxy_ws.py server             an echo server on 127.0.0.1: prints "port N", then
                                 "closed CODE REASON" as each connection ends
  proxy_ws.py client URL         text, binary, fragmented and 1 MB messages, a ping,
                                 close codes both ways: prints "ok NAME" per check
  proxy_ws.py hold URL GOFILE    one message, "ready", waits for GOFILE to exist,
                                 then another message on the same connection

A client exits 0 when every check passed, else 1 with "FAIL ..." printed.
Every wait is bounded (30 s, or 60 s for GOFILE).
"""
import asyncio
import os
import sys

import websockets

WAIT = 30


async def echo(ws, path=None):
    try:
        async for msg in ws:
            if msg == "close-me":
                await ws.close(4001, "server bye")
                break
            await ws.send(msg)
    except websockets.ConnectionClosed:
        pass
    finally:
        await ws.wait_closed()
        print("closed", ws.close_code, ws.close_reason, flush=True)


async def serve():
    async with websockets.serve(echo, "127.0.0.1", 0, max_size=None) as server:
        print("port", server.sockets[0].getsockname()[1], flush=True)
        await asyncio.Future()


def check(name, ok, detail=""):
    if not ok:
        print("FAIL", name, detail, flush=True)
        sys.exit(1)
    print("ok", name, flush=True)


async def roundtrip(ws, msg):
    await ws.send(msg)
    return await asyncio.wait_for(ws.recv(), WAIT)


async def client(url):
    async with websockets.connect(url, max_size=None, open_timeout=WAIT) as ws:
        got = await roundtrip(ws, "héllo, tunnel")
        check("text", got == "héllo, tunnel", repr(got))
        data = bytes(range(256)) * 16
        got = await roundtrip(ws, data)
        check("binary", isinstance(got, bytes) and got == data, repr(got[:32]))
        await ws.send(["frag1-", "frag2-", "frag3"])
        got = await asyncio.wait_for(ws.recv(), WAIT)
        check("fragmented", got == "frag1-frag2-frag3", repr(got))
        big = os.urandom(1000 * 1000)
        got = await roundtrip(ws, big)
        check("1MB", got == big, "%d bytes back" % len(got))
        pong = await ws.ping(b"are you there")
        await asyncio.wait_for(pong, WAIT)
        check("ping", True)
        await asyncio.wait_for(ws.close(4002, "client bye"), WAIT)
        check("client_close", ws.close_code == 4002, "close code %s" % ws.close_code)
    async with websockets.connect(url, open_timeout=WAIT) as ws:
        await ws.send("close-me")
        try:
            got = await asyncio.wait_for(ws.recv(), WAIT)
            check("server_close", False, "a message instead: %r" % got)
        except websockets.ConnectionClosed as e:
            code = e.rcvd.code if e.rcvd else None
            reason = e.rcvd.reason if e.rcvd else None
            check("server_close", (code, reason) == (4001, "server bye"), "%s %s" % (code, reason))


async def hold(url, gofile):
    async with websockets.connect(url, open_timeout=WAIT) as ws:
        check("before", await roundtrip(ws, "before") == "before")
        print("ready", flush=True)
        for _ in range(600):
            if os.path.exists(gofile):
                break
            await asyncio.sleep(0.1)
        check("go", os.path.exists(gofile), "no " + gofile)
        got = await roundtrip(ws, "after")
        check("after", got == "after", repr(got))


def main():
    mode = sys.argv[1]
    if mode == "server":
        asyncio.run(serve())
    elif mode == "client":
        asyncio.run(asyncio.wait_for(client(sys.argv[2]), 5 * WAIT))
    else:
        asyncio.run(asyncio.wait_for(hold(sys.argv[2], sys.argv[3]), 5 * WAIT))


if __name__ == "__main__":
    main()
