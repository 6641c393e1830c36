"""A TLS server that requires client certificates, with SNI and ALPN (asyncio), the reference
for real-programs-2.test.ts.

Clients: with a certificate (SNI localhost, then other.test), without one, and one that does
not trust the server. Each side prints what a user sees: the name SNI chose, the ALPN
protocol, the peer's certificate name, the cipher, and for the failures the error's type and
OpenSSL reason. Usage: mtls.py CERTDIR both|server|client [PORT].
"""
import asyncio
import os
import ssl
import sys

ATTEMPTS = ('localhost with cert', 'other.test with cert', 'localhost without cert', 'localhost untrusting')


def common_name(cert):
    return dict(x[0] for x in cert['subject'])['commonName'] if cert else None


def describe(error):
    if isinstance(error, ssl.SSLCertVerificationError):
        return f'{type(error).__name__} {error.reason} {error.verify_code} {error.verify_message}'
    return f"{type(error).__name__} {getattr(error, 'reason', None)}"


def server_context(certdir, events, hello):
    at = lambda name: os.path.join(certdir, name)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=at('ca.pem'))
    context.load_cert_chain(at('server.pem'), at('server.key'))
    context.verify_mode = ssl.CERT_REQUIRED
    context.set_alpn_protocols(['h2', 'http/1.1'])
    other = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=at('ca.pem'))
    other.load_cert_chain(at('other.pem'), at('other.key'))
    other.verify_mode = ssl.CERT_REQUIRED
    other.set_alpn_protocols(['h2', 'http/1.1'])

    def choose(ssl_object, name, _context):
        events.append(f'server: sni {name}')
        hello()
        if name == 'other.test':
            ssl_object.context = other

    context.sni_callback = choose
    return context


def client_context(certdir, with_cert, trusting):
    at = lambda name: os.path.join(certdir, name)
    # the untrusting client's only anchor is its own certificate, which signed nothing
    context = ssl.create_default_context(cafile=at('ca.pem' if trusting else 'client.pem'))
    if with_cert:
        context.load_cert_chain(at('client.pem'), at('client.key'))
    context.set_alpn_protocols(['http/1.1', 'h2'])
    return context


async def serve(certdir, events, port_ready):
    served = hellos = 0
    done = asyncio.Event()

    def hello():
        nonlocal hellos
        hellos += 1
        if served == 2 and hellos == len(ATTEMPTS):
            done.set()

    async def handle(reader, writer):
        nonlocal served
        ssl_object = writer.get_extra_info('ssl_object')
        name, version, _bits = writer.get_extra_info('cipher')
        events.append(f"server: alpn {ssl_object.selected_alpn_protocol()} client {common_name(writer.get_extra_info('peercert'))} cipher {name} {version}")
        line = await reader.readline()
        writer.write(b'hello ' + line)
        await writer.drain()
        writer.close()
        await writer.wait_closed()
        served += 1
        if served == 2 and hellos == len(ATTEMPTS):
            done.set()

    server = await asyncio.start_server(handle, '127.0.0.1', 0, ssl=server_context(certdir, events, hello))
    port_ready(server.sockets[0].getsockname()[1])
    # every client said hello and both accepted ones were served; the refused may be closing
    await done.wait()
    server.close()
    await server.wait_closed()


async def client(port, certdir, events):
    for attempt in ATTEMPTS:
        hostname, how = attempt.split(' ', 1)
        context = client_context(certdir, how == 'with cert', how != 'untrusting')
        try:
            reader, writer = await asyncio.open_connection('127.0.0.1', port, ssl=context, server_hostname=hostname)
        except Exception as error:
            events.append(f'client {attempt}: connect failed {describe(error)}')
            continue
        ssl_object = writer.get_extra_info('ssl_object')
        events.append(f"client {attempt}: alpn {ssl_object.selected_alpn_protocol()} server {common_name(writer.get_extra_info('peercert'))}")
        try:
            writer.write(b'hi\n')
            events.append(f'client {attempt}: {(await reader.readline()).decode().strip()}')
        except Exception as error:
            events.append(f'client {attempt}: read failed {describe(error)}')
        writer.close()
        try:
            await writer.wait_closed()
        except Exception as error:
            events.append(f'client {attempt}: wait_closed {describe(error)}')


async def main():
    certdir, mode = sys.argv[1], sys.argv[2]
    reports = []
    asyncio.get_running_loop().set_exception_handler(lambda _loop, context: reports.append(context))
    server_events, client_events = [], []
    if mode == 'both':
        port = asyncio.get_running_loop().create_future()
        serving = asyncio.create_task(serve(certdir, server_events, port.set_result))
        await client(await port, certdir, client_events)
        await serving
    elif mode == 'server':
        await serve(certdir, server_events, lambda port: print(f'port {port}', flush=True))
    else:
        await client(int(sys.argv[3]), certdir, client_events)
    if mode != 'client':
        server_events.append(f'server: reports {len(reports)}')
    print('\n'.join(server_events + client_events))


asyncio.run(main())
