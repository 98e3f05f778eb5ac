#!/usr/bin/env python3
"""The eventstore binary over real HTTP, in both pool modes.

Usage: eventstore_server_test.py PATH/TO/eventstore [unittest args]

Each test starts the server on an ephemeral port (--port 0 --port-file) in a
temporary directory and talks to it with the standard library only: many
requests on one keep-alive connection, 60 concurrent connections, oversized
bodies and headers, bytes that are not HTTP, other paths and methods,
Expect: 100-continue, idle timeouts, GET /metrics, SIGTERM with connections
open, and durability of acknowledged writes across SIGKILL.
"""

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

BINARY = None  # set from argv in main


class Server:
    """One eventstore process on an ephemeral port."""

    def __init__(self, mode, directory, extra_args=()):
        self.mode = mode
        self.directory = directory
        self.db = os.path.join(directory, "events.db")
        self.port_file = os.path.join(directory, "port")
        self.extra_args = list(extra_args)
        self.process = None
        self.port = None
        self.clients = []  # closed by stop()

    def start(self):
        if os.path.exists(self.port_file):
            os.remove(self.port_file)
        self.process = subprocess.Popen(
            [BINARY, "--db", self.db, "--port", "0", "--port-file", self.port_file,
             "--pool=" + self.mode, "--threads", "2"] + self.extra_args,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if os.path.exists(self.port_file):
                with open(self.port_file) as f:
                    text = f.read().strip()
                if text:
                    self.port = int(text)
                    break
            if self.process.poll() is not None:
                raise AssertionError("server exited: " + self.process.stderr.read())
            time.sleep(0.02)
        else:
            raise AssertionError("server wrote no port file within 10 s")
        line = self.process.stdout.readline()
        expected = "eventstore listening on 127.0.0.1:%d (pool=%s, db=%s)\n" % (
            self.port, self.mode, self.db)
        if line != expected:
            raise AssertionError("first line %r, expected %r" % (line, expected))
        return self

    def connection(self, timeout=10):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        self.clients.append(connection)
        return connection

    def raw(self, timeout=10):
        client = RawClient(self, timeout)
        self.clients.append(client)
        return client

    def close_clients(self):
        for client in self.clients:
            client.close()
        self.clients = []

    def stop(self, sig=signal.SIGTERM, timeout=10):
        """Sends sig; returns the exit code and how long the exit took."""
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else None, 0.0
        begin = time.monotonic()
        self.process.send_signal(sig)
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError("server did not exit within %s s of signal %d" % (timeout, sig))
        finally:
            self.process.stdout.close()
            self.process.stderr.close()
        return code, time.monotonic() - begin


def rpc(connection, body, headers=None):
    """POST /rpc on an open connection; returns (status, parsed JSON, headers)."""
    payload = body if isinstance(body, (bytes, str)) else json.dumps(body)
    all_headers = {"Content-Type": "application/json"}
    all_headers.update(headers or {})
    connection.request("POST", "/rpc", body=payload, headers=all_headers)
    response = connection.getresponse()
    data = response.read()
    return response.status, json.loads(data), response


class RawClient:
    """A plain socket for what http.client will not send: garbage, pipelining,
    half requests. Keeps the bytes it read past a response for the next one."""

    def __init__(self, server, timeout=10):
        self.sock = socket.create_connection(("127.0.0.1", server.port), timeout=timeout)
        self.pending = b""

    def send(self, data):
        """Sends data; False when the server had already closed the connection."""
        try:
            self.sock.send(data)
            return True
        except (BrokenPipeError, ConnectionResetError):
            return False

    def _fill(self):
        try:
            chunk = self.sock.recv(65536)
        except ConnectionResetError:
            chunk = b""
        self.pending += chunk
        return bool(chunk)

    def read_response(self):
        """(status, headers with lowercase names, body), or (None, {}, b"")
        when the server closed the connection before a response."""
        while b"\r\n\r\n" not in self.pending:
            if not self._fill():
                return None, {}, b""
        head, self.pending = self.pending.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        while len(self.pending) < length:
            if not self._fill():
                break
        body, self.pending = self.pending[:length], self.pending[length:]
        return status, headers, body

    def closed_by_peer(self, timeout=5):
        """True when the server closes the connection (EOF or reset) within timeout."""
        self.sock.settimeout(timeout)
        try:
            while True:
                if not self.sock.recv(65536):
                    return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False

    def close(self):
        self.sock.close()


def metrics(server):
    connection = server.connection()
    connection.request("GET", "/metrics")
    response = connection.getresponse()
    text = response.read().decode()
    connection.close()
    return response.status, response.getheader("Content-Type"), text


def metric_value(text, name):
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError("no sample %s in\n%s" % (name, text))


class ServerTestBase(unittest.TestCase):
    MODE = None  # "off" or "on", set by the subclasses
    EXTRA_ARGS = ("--max-body", "65536", "--timeout", "2")

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="eventstore_server_test_")
        self.server = Server(self.MODE, self.tmp.name, self.EXTRA_ARGS).start()

    def tearDown(self):
        try:
            if self.server.process and self.server.process.poll() is None:
                code, _ = self.server.stop()
                self.assertEqual(code, 0, "server exit code after the test")
        finally:
            self.server.close_clients()
            self.tmp.cleanup()

    def assert_serves(self):
        connection = self.server.connection()
        status, body, _ = rpc(connection, ["sys.health"])
        connection.close()
        self.assertEqual(status, 200)
        self.assertEqual(body["status"], "ok")
        self.assertEqual(body["pool"], self.MODE)

    # -- requests ------------------------------------------------------------

    def test_keep_alive_connection_serves_many_requests(self):
        connection = self.server.connection()
        for i in range(300):
            status, body, _ = rpc(connection, ["stream.write", "account-%d" % (i % 7),
                                               {"type": "Deposited", "data": {"i": i}}])
            self.assertEqual(status, 200, body)
            self.assertEqual(body["globalPosition"], i + 1)
        first_socket = connection.sock
        status, body, _ = rpc(connection, ["stream.get", "account-3", {"batchSize": 1000}])
        self.assertEqual(status, 200)
        self.assertEqual([m["data"]["i"] for m in body], list(range(3, 300, 7)))
        # Errors leave the connection usable.
        status, body, _ = rpc(connection, "not json")
        self.assertEqual((status, body["error"]["code"]), (400, "INVALID_REQUEST"))
        status, body, _ = rpc(connection, ["stream.write", "account-1",
                                           {"type": "T", "data": {}}, {"expectedVersion": 0}])
        self.assertEqual((status, body["error"]["code"]), (409, "STREAM_VERSION_CONFLICT"))
        self.assertEqual(body["error"]["details"],
                         {"stream": "account-1", "expected": 0, "actual": 42})
        connection.request("GET", "/nowhere")
        response = connection.getresponse()
        self.assertEqual(response.status, 404)
        self.assertEqual(json.loads(response.read())["error"]["code"], "NOT_FOUND")
        connection.request("GET", "/rpc")
        response = connection.getresponse()
        self.assertEqual(response.status, 405)
        self.assertEqual(response.getheader("Allow"), "POST")
        self.assertEqual(json.loads(response.read())["error"]["code"], "METHOD_NOT_ALLOWED")
        connection.request("DELETE", "/metrics")
        response = connection.getresponse()
        self.assertEqual(response.status, 405)
        response.read()
        status, body, _ = rpc(connection, ["stream.version", "account-1"])
        self.assertEqual((status, body), (200, 42))
        self.assertIs(connection.sock, first_socket, "the connection was not kept alive")
        connection.close()
        _, _, text = metrics(self.server)
        self.assertEqual(metric_value(text, "eventstore_connections_total"), 2)

    def test_fifty_concurrent_connections(self):
        count = 60
        sockets_open = threading.Barrier(count + 1)
        errors = []

        def client(index):
            try:
                connection = self.server.connection(timeout=20)
                connection.connect()
                sockets_open.wait(timeout=20)
                sockets_open.wait(timeout=20)  # until the main thread read the metrics
                for i in range(20):
                    status, body, _ = rpc(connection, ["stream.write", "conc-%d" % index,
                                                       {"type": "T", "data": {"i": i}}])
                    if status != 200:
                        errors.append((index, status, body))
                status, body, _ = rpc(connection, ["stream.get", "conc-%d" % index])
                if status != 200 or [m["data"]["i"] for m in body] != list(range(20)):
                    errors.append((index, status, body))
                connection.close()
            except Exception as e:  # reported below
                errors.append((index, repr(e)))

        threads = [threading.Thread(target=client, args=(i,)) for i in range(count)]
        for thread in threads:
            thread.start()
        sockets_open.wait(timeout=20)
        time.sleep(0.2)  # the server counts a connection once a worker picked it up
        _, _, text = metrics(self.server)
        sockets_open.wait(timeout=20)
        for thread in threads:
            thread.join(timeout=60)
        self.assertEqual(errors, [])
        self.assertGreaterEqual(metric_value(text, "eventstore_connections_open"), count)
        connection = self.server.connection()
        status, body, _ = rpc(connection, ["sys.health"])
        connection.close()
        self.assertEqual(body["messages"], count * 20)

    def test_oversized_body_gets_413_and_server_goes_on(self):
        sock = self.server.raw()
        body = b'["sys.health"' + b" " * 70000 + b"]"
        sock.send(b"POST /rpc HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n" % len(body))
        sock.send(body)  # the server may answer and close before it is all sent
        status, headers, payload = sock.read_response()
        self.assertEqual(status, 413)
        self.assertEqual(headers.get("content-type"), "application/json")
        self.assertEqual(json.loads(payload)["error"]["code"], "PAYLOAD_TOO_LARGE")
        self.assertTrue(sock.closed_by_peer())
        sock.close()
        # A body at the limit is fine.
        connection = self.server.connection()
        status, body, _ = rpc(connection, b'["sys.health"]' + b" " * (65536 - 14))
        self.assertEqual(status, 200, body)
        self.assert_serves()

    def test_chunked_oversized_body_gets_413(self):
        sock = self.server.raw()
        sock.send(b"POST /rpc HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b" " * 30000
        for _ in range(4):
            if not sock.send(b"%x\r\n%s\r\n" % (len(chunk), chunk)):
                break
        status, _, payload = sock.read_response()
        self.assertEqual(status, 413)
        self.assertEqual(json.loads(payload)["error"]["code"], "PAYLOAD_TOO_LARGE")
        sock.close()
        self.assert_serves()

    def test_oversized_header_gets_431(self):
        sock = self.server.raw()
        sock.send(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n")
        status, _, payload = sock.read_response()
        self.assertEqual(status, 431)
        self.assertEqual(json.loads(payload)["error"]["code"], "HEADER_TOO_LARGE")
        self.assertTrue(sock.closed_by_peer())
        sock.close()
        self.assert_serves()

    def test_garbage_is_answered_400_or_closed_and_others_are_served(self):
        for garbage in [b"\x00\x01\x02\xff\xfe garbage\r\n\r\n", b"HELLO\r\n\r\n",
                        b"GET / HTTP/9.9\r\n\r\n", b"POST /rpc HTTP/1.1\r\nContent-Length: x\r\n\r\n",
                        b"GET /rpc HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
                        b"\r\n" * 5000]:
            with self.subTest(garbage=garbage[:40]):
                other = self.server.connection()  # open while the garbage arrives
                other.connect()
                sock = self.server.raw()
                sock.send(garbage)
                status, _, payload = sock.read_response()
                if status is not None:
                    self.assertEqual(status, 400, payload)
                    self.assertEqual(json.loads(payload)["error"]["code"], "INVALID_REQUEST")
                self.assertTrue(sock.closed_by_peer())
                sock.close()
                status, body, _ = rpc(other, ["sys.health"])
                self.assertEqual(status, 200)
                other.close()

    def test_expect_100_continue(self):
        sock = self.server.raw()
        body = json.dumps(["stream.write", "account-1", {"type": "T", "data": {"x": 1}}]).encode()
        sock.send(b"POST /rpc HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                     b"Content-Length: %d\r\n\r\n" % len(body))
        status, _, _ = sock.read_response()
        self.assertEqual(status, 100)
        sock.send(body)
        status, _, payload = sock.read_response()
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(payload), {"position": 0, "globalPosition": 1})
        sock.close()

    def test_http10_and_connection_close_end_the_connection(self):
        for request in [b"POST /rpc HTTP/1.0\r\nContent-Length: 14\r\n\r\n[\"sys.health\"]",
                        b"POST /rpc HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                        b"Content-Length: 14\r\n\r\n[\"sys.health\"]"]:
            sock = self.server.raw()
            sock.send(request)
            status, _, payload = sock.read_response()
            self.assertEqual(status, 200)
            self.assertEqual(json.loads(payload)["status"], "ok")
            self.assertTrue(sock.closed_by_peer())
            sock.close()

    def test_pipelined_requests_are_answered_in_order(self):
        sock = self.server.raw()
        requests = b""
        for i in range(5):
            body = json.dumps(["stream.write", "pipe-1", {"type": "T", "data": {"i": i}}]).encode()
            requests += b"POST /rpc HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (
                len(body), body)
        sock.send(requests)
        for i in range(5):
            status, _, payload = sock.read_response()
            self.assertEqual(status, 200)
            self.assertEqual(json.loads(payload)["position"], i)
        sock.close()

    def test_idle_connection_times_out(self):
        sock = self.server.raw()
        begin = time.monotonic()
        self.assertTrue(sock.closed_by_peer(timeout=8), "an idle connection stayed open")
        self.assertLess(time.monotonic() - begin, 6)
        sock.close()
        # A half-sent request times out the same way.
        sock = self.server.raw()
        sock.send(b"POST /rpc HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n[\"sys")
        self.assertTrue(sock.closed_by_peer(timeout=8), "a stalled request stayed open")
        sock.close()
        self.assert_serves()

    def test_metrics_are_openmetrics(self):
        connection = self.server.connection()
        rpc(connection, ["sys.health"])
        rpc(connection, ["nope"])
        status, content_type, text = metrics(self.server)
        self.assertEqual(status, 200)
        self.assertEqual(content_type, "application/openmetrics-text; version=1.0.0; charset=utf-8")
        self.assertTrue(text.endswith("# EOF\n"))
        self.assertEqual(text.count("# EOF"), 1)
        self.assertEqual(
            metric_value(text, 'eventstore_rpc_requests_total{method="sys.health"}'), 1)
        self.assertEqual(
            metric_value(text, 'eventstore_errors_total{code="METHOD_NOT_FOUND"}'), 1)
        self.assertGreaterEqual(metric_value(text, "eventstore_connections_open"), 1)
        for line in text.splitlines():
            if line.startswith("#"):
                self.assertRegex(line, r"^# (TYPE|HELP|EOF)")
            else:
                self.assertRegex(line, r'^[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? [0-9.e+-]+$')
        pools = ["eventstore.request_bodies", "eventstore.responses", "eventstore.parsers"]
        for pool in pools:
            if self.MODE == "on":
                self.assertIn('pool="%s"' % pool, text)
            else:
                self.assertNotIn(pool, text)
        if self.MODE == "on":
            self.assertGreater(
                metric_value(text, 'perflab_pool_hits_total{pool="eventstore.parsers"}'), 0)

    # -- stopping ------------------------------------------------------------

    def test_sigterm_exits_0_quickly_with_connections_open(self):
        idle = self.server.connection()
        rpc(idle, ["sys.health"])  # keep-alive, idle now
        half = self.server.raw()
        half.send(b"POST /rpc HTTP/1.1\r\nHost: x\r\nContent-Length: 14\r\n\r\n[\"sys")
        time.sleep(0.1)
        code, took = self.server.stop(signal.SIGTERM)
        self.assertEqual(code, 0)
        self.assertLess(took, 5.0)
        self.assertTrue(half.closed_by_peer(timeout=1))
        half.close()
        idle.close()

    def test_sigterm_finishes_the_request_in_flight(self):
        sock = self.server.raw()
        body = json.dumps(["stream.write", "account-1", {"type": "T", "data": {}}]).encode()
        # The header now, the body after the signal: the request is in flight.
        sock.send(b"POST /rpc HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body))
        time.sleep(0.2)
        self.server.process.send_signal(signal.SIGTERM)
        time.sleep(0.2)
        sock.send(body)
        status, headers, payload = sock.read_response()
        self.assertEqual(status, 200, payload)
        self.assertEqual(headers.get("connection"), "close")
        self.assertEqual(json.loads(payload)["globalPosition"], 1)
        code, _ = self.server.stop(signal.SIGTERM)
        self.assertEqual(code, 0)
        # The store was closed cleanly: it reopens with the message.
        server = Server(self.MODE, self.tmp.name, self.EXTRA_ARGS).start()
        try:
            connection = server.connection()
            status, body, _ = rpc(connection, ["stream.version", "account-1"])
            connection.close()
            self.assertEqual((status, body), (200, 0))
        finally:
            self.assertEqual(server.stop()[0], 0)
            server.close_clients()

    def test_sigint_exits_0(self):
        code, took = self.server.stop(signal.SIGINT)
        self.assertEqual(code, 0)
        self.assertLess(took, 5.0)

    def test_acknowledged_writes_survive_sigkill(self):
        acknowledged = []
        stop = threading.Event()
        lock = threading.Lock()

        def writer(index):
            connection = self.server.connection()
            i = 0
            while not stop.is_set():
                stream = "durable-%d" % index
                message_id = "w%d-%d" % (index, i)
                try:
                    status, body, _ = rpc(connection, ["stream.write", stream,
                                                       {"id": message_id, "type": "T",
                                                        "data": {"i": i}}])
                except (OSError, http.client.HTTPException, ValueError):
                    return  # the server died mid-request: not acknowledged
                if status == 200:
                    with lock:
                        acknowledged.append((stream, message_id, body["position"]))
                i += 1

        threads = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
        for thread in threads:
            thread.start()
        time.sleep(1.0)
        self.server.process.send_signal(signal.SIGKILL)
        self.server.process.wait()
        stop.set()
        for thread in threads:
            thread.join(timeout=20)
        self.server.process.stdout.close()
        self.server.process.stderr.close()
        self.assertGreater(len(acknowledged), 50)

        server = Server(self.MODE, self.tmp.name, self.EXTRA_ARGS).start()
        try:
            connection = server.connection()
            stored = {}
            for index in range(4):
                position = 0
                while True:
                    status, body, _ = rpc(connection, ["stream.get", "durable-%d" % index,
                                                       {"position": position, "batchSize": 1000}])
                    self.assertEqual(status, 200)
                    for m in body:
                        stored[m["id"]] = (m["streamName"], m["position"])
                    if len(body) < 1000:
                        break
                    position += 1000
            missing = [a for a in acknowledged if stored.get(a[1]) != (a[0], a[2])]
            self.assertEqual(missing, [], "acknowledged writes lost after SIGKILL")
        finally:
            self.assertEqual(server.stop()[0], 0)
            server.close_clients()


class PlainServerTest(ServerTestBase):
    MODE = "off"


class PooledServerTest(ServerTestBase):
    MODE = "on"


del ServerTestBase  # only the two modes run


def main():
    global BINARY
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    BINARY = os.path.abspath(sys.argv[1])
    program = unittest.main(argv=[sys.argv[0]] + sys.argv[2:], exit=False, verbosity=2)
    return 0 if program.result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
