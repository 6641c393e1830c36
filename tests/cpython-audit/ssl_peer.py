"""Blocking-socket TLS peers of CPython's test_asyncio/test_ssl.py (its threaded server and
client), for ssl.test.ts. Run with /usr/bin/python3.

    ssl_peer.py server SCENARIO CERT KEY N
        Listens on 127.0.0.1, prints "listening <port>", serves one connection with
        SCENARIO, prints "done <note>" (or "failed <error>") and exits.
    ssl_peer.py client SCENARIO PORT CA N
        Connects to PORT, runs SCENARIO, prints "done <note>" (or "failed <error>").
    ssl_peer.py asyncio-server starttls CERT KEY 0 / asyncio-client starttls PORT CA 0
        The same with asyncio streams (test_streams' test_start_tls): a line in plaintext,
        StreamWriter.start_tls, a line over TLS.

N is the payload size the scenario uses.
"""
import asyncio
import socket
import ssl
import sys
import time


def recv_all(sock, n):
    buf = b""
    while len(buf) < n:
        data = sock.recv(n - len(buf))
        if not data:
            raise ConnectionAbortedError(f"EOF after {len(buf)} of {n} bytes")
        buf += data
    return buf


def server_context(cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    return ctx


def client_context(ca):
    ctx = ssl.create_default_context(cafile=ca)
    ctx.check_hostname = False
    return ctx


# ---- server scenarios: (raw socket, server context, n) -> note ----

def echo_ab(sock, ctx, n):
    # test_create_connection_ssl_1: A_DATA in, OK out, B_DATA in, SPAM out.
    s = ctx.wrap_socket(sock, server_side=True)
    assert recv_all(s, n) == b"A" * n
    s.sendall(b"OK")
    assert recv_all(s, n) == b"B" * n
    s.sendall(b"SPAM")
    s.close()
    return "served"


def silent(sock, ctx, n):
    # test_create_connection_ssl_slow_handshake / test_ssl_handshake_timeout: never answer.
    try:
        recv_all(sock, 1024 * 1024)
    except (ConnectionAbortedError, ConnectionResetError):
        return "aborted"
    return "not aborted"


def drop_in_handshake(sock, ctx, n):
    # test_ssl_handshake_connection_lost: read the ClientHello, close.
    sock.recv(1024)
    sock.close()
    return "closed"


def corrupt(sock, ctx, n):
    # test_start_tls_client_corrupted_ssl: plaintext garbage on the raw socket mid-session.
    raw = sock.dup()
    s = ctx.wrap_socket(sock, server_side=True)
    s.sendall(b"A\n")
    recv_all(s, 1)
    raw.send(b"please corrupt the SSL connection")
    try:
        s.recv(1024)
    except (ssl.SSLError, OSError):
        pass
    s.close()
    raw.close()
    return "corrupted"


def starttls(sock, ctx, n):
    # test_start_tls_client_reg_proto_1 / buf_proto_1: plaintext, then TLS on the same socket.
    assert len(recv_all(sock, n)) == n
    s = ctx.wrap_socket(sock, server_side=True)
    s.sendall(b"O")
    assert len(recv_all(s, n)) == n
    s.sendall(b"2")
    assert len(recv_all(s, n)) == n
    s.unwrap()
    s.close()
    return "unwrapped"


def unwrap(sock, ctx, n):
    # test_shutdown_cleanly: close_notify from the server after the reply.
    s = ctx.wrap_socket(sock, server_side=True)
    assert recv_all(s, n) == b"A" * n
    s.send(b"OK")
    s.unwrap()
    s.close()
    return "unwrapped"


def flush(sock, ctx, n):
    # test_flush_before_shutdown: the client's writes queued before close() all arrive.
    s = ctx.wrap_socket(sock, server_side=True)
    assert recv_all(s, 4) == b"ping"
    s.send(b"pong")
    time.sleep(0.5)
    got = len(recv_all(s, n))
    s.close()
    return f"received {got}"


def extra_bytes(sock, ctx, n):
    # test_shutdown_timeout_handler_not_set: data then a TCP FIN while the client is paused.
    s = ctx.wrap_socket(sock, server_side=True)
    s.send(b"hello")
    assert s.recv(1024) == b"world"
    s.send(b"extra bytes")
    s.shutdown(socket.SHUT_WR)
    tail = s.recv(1024)
    s.close()
    return f"tail {len(tail)}"


def trailing_notify(sock, ctx, n):
    # test_remote_shutdown_receives_trailing_data: our close_notify goes out while the client
    # still has data queued; all of it must arrive after the client saw our EOF.
    # stdin says "filled <count>" once the client is paused, "eof" once it read our EOF.
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_side=True)
    while True:
        try:
            obj.do_handshake()
            break
        except ssl.SSLWantReadError:
            sock.sendall(outgoing.read())
            incoming.write(sock.recv(16384))
    sock.sendall(outgoing.read())
    while True:
        try:
            data = obj.read(4)
            break
        except ssl.SSLWantReadError:
            incoming.write(sock.recv(16384))
    assert data == b"ping"
    obj.write(b"pong")
    sock.sendall(outgoing.read())
    count = int(sys.stdin.readline().split()[1])
    received = 0
    incoming.write(sock.recv(65536 * 4))
    while True:
        try:
            received += len(obj.read(16384))
        except ssl.SSLWantReadError:
            break
    try:
        obj.unwrap()
    except ssl.SSLWantReadError:
        pass
    sock.sendall(outgoing.read())
    sys.stdin.readline()
    while True:
        try:
            received += len(obj.read(16384))
        except ssl.SSLWantReadError:
            chunk = sock.recv(16384)
            if not chunk:
                break
            incoming.write(chunk)
        except ssl.SSLZeroReturnError:
            break
    sock.close()
    return f"received {received} of {count * n}"


def trailing_fin(sock, ctx, n):
    # The same with a TCP FIN (shutdown(SHUT_WR)) instead of close_notify.
    s = ctx.wrap_socket(sock, server_side=True)
    assert recv_all(s, 4) == b"ping"
    s.send(b"pong")
    count = int(sys.stdin.readline().split()[1])
    s.shutdown(socket.SHUT_WR)
    got = len(recv_all(s, count * n))
    s.close()
    return f"received {got} of {count * n}"


SERVER = {f.__name__.replace("_", "-"): f for f in (echo_ab, silent, drop_in_handshake, corrupt, starttls, unwrap, flush, extra_bytes, trailing_notify, trailing_fin)}


# ---- client scenarios: (socket connected, client context, n) -> note ----

def client_ab(sock, ctx, n):
    # test_create_server_ssl_1's client.
    s = ctx.wrap_socket(sock)
    s.sendall(b"A" * n)
    assert recv_all(s, 2) == b"OK"
    s.sendall(b"B" * n)
    assert recv_all(s, 4) == b"SPAM"
    s.close()
    return "served"


def client_starttls(sock, ctx, n):
    # test_start_tls_server_1's client: plaintext in, then TLS from the client side.
    assert len(recv_all(sock, n)) == n
    s = ctx.wrap_socket(sock)
    s.sendall(b"1" * n)
    s.unwrap()
    s.close()
    return "unwrapped"


def client_starttls_close(sock, ctx, n):
    # test_sslproto's test_start_tls_server_1: the client closes without close_notify.
    assert len(recv_all(sock, n)) == n
    s = ctx.wrap_socket(sock)
    s.sendall(b"1" * n)
    answer = recv_all(s, 6)
    s.close()
    return answer.decode()


CLIENT = {"ab": client_ab, "starttls": client_starttls, "starttls-close": client_starttls_close}


async def asyncio_server(ctx):
    done = asyncio.get_running_loop().create_future()

    async def handle(reader, writer):
        try:
            writer.write(await reader.readline())
            await writer.drain()
            await writer.start_tls(ctx)
            writer.write(await reader.readline())
            await writer.drain()
            writer.close()
            await writer.wait_closed()
            done.set_result("served")
        except Exception as e:
            done.set_exception(e)

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    print(f"listening {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        return await asyncio.wait_for(done, 30)


async def asyncio_client(port, ctx):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"hello world 1!\n")
    assert await reader.readline() == b"hello world 1!\n"
    await writer.start_tls(ctx, server_hostname="localhost")
    assert writer.get_extra_info("ssl_object") is not None
    writer.write(b"hello world 2!\n")
    assert await reader.readline() == b"hello world 2!\n"
    tail = await reader.read()
    writer.close()
    await writer.wait_closed()
    return f"eof {len(tail)}"


def main():
    role, scenario = sys.argv[1], sys.argv[2]
    n = int(sys.argv[5])
    try:
        if role == "asyncio-server":
            note = asyncio.run(asyncio_server(server_context(sys.argv[3], sys.argv[4])))
        elif role == "asyncio-client":
            note = asyncio.run(asyncio_client(int(sys.argv[3]), client_context(sys.argv[4])))
        elif role == "server":
            ctx = server_context(sys.argv[3], sys.argv[4])
            listener = socket.socket()
            listener.bind(("127.0.0.1", 0))
            listener.listen(1)
            print(f"listening {listener.getsockname()[1]}", flush=True)
            sock, _ = listener.accept()
            sock.settimeout(30)
            note = SERVER[scenario](sock, ctx, n)
        else:
            ctx = client_context(sys.argv[4])
            sock = socket.create_connection(("127.0.0.1", int(sys.argv[3])), timeout=30)
            note = CLIENT[scenario](sock, ctx, n)
        print(f"done {note}", flush=True)
    except Exception as e:  # the test prints what the peer saw
        print(f"failed {type(e).__name__}: {e}", flush=True)


main()
