# SPDX-License-Identifier: Apache-2.0
"""TLS 1.3 handshakes made in one process: a client and a server over a pair of MemoryBIOs.

No sockets and no network waits: every microsecond of a handshake is CPU spent in libssl and
libcrypto, which is what a uprobe on those libraries slows down. Usage:
  memorybio_handshakes.py CERT KEY N
Prints "ready", waits for a line on stdin, makes N handshakes (each followed by one 1 KiB
request/response), then prints the mean wall-clock and CPU nanoseconds per handshake. The CPU time
is this process's (user and system: a uprobe's trap and BPF program run in the process that hit
it), so it holds still when other work on the machine takes the CPU away; the wall time also
carries what a tracer's own process costs the machine.
"""
import ssl
import sys
import time

cert, key, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
server_ctx.load_cert_chain(cert, key)
server_ctx.minimum_version = ssl.TLSVersion.TLSv1_3
client_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
client_ctx.load_verify_locations(cert)
client_ctx.minimum_version = ssl.TLSVersion.TLSv1_3


def pump(src, dst):
    data = src.read()
    if data:
        dst.write(data)


def one_handshake():
    c_in, c_out, s_in, s_out = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
    client = client_ctx.wrap_bio(c_in, c_out, server_hostname="localhost")
    server = server_ctx.wrap_bio(s_in, s_out, server_side=True)
    done_c = done_s = False
    while not (done_c and done_s):
        if not done_c:
            try:
                client.do_handshake()
                done_c = True
            except ssl.SSLWantReadError:
                pass
        pump(c_out, s_in)
        if not done_s:
            try:
                server.do_handshake()
                done_s = True
            except ssl.SSLWantReadError:
                pass
        pump(s_out, c_in)
    client.write(b"x" * 1024)
    pump(c_out, s_in)
    server.read(1024)
    server.write(b"y" * 1024)
    pump(s_out, c_in)
    client.read(1024)


one_handshake()  # warm caches and lazy initialisation outside the timed part
print("ready", flush=True)
sys.stdin.readline()
start, cpu_start = time.perf_counter_ns(), time.process_time_ns()
for _ in range(count):
    one_handshake()
wall, cpu = time.perf_counter_ns() - start, time.process_time_ns() - cpu_start
print(wall // count, cpu // count, flush=True)
