#!/usr/bin/env python3
"""A taskd client in another language, written from docs/PROTOCOL.md alone.

Python's standard library (socket) and Debian's python3-msgpack; no NATS library: it speaks the
NATS text protocol itself (CONNECT, PING/PONG, SUB/UNSUB, PUB/HPUB, MSG/HMSG). It writes
header names in Title-Case, as libraries that canonicalise them do.

    python3 client.py <host> <port> [prefix] [--ensure-only]

Prints one JSON object per line, {"case": ..., ...}, and exits 0 when every case ran (the test
asserts what they printed); any protocol trouble raises and exits 1.
"""
import base64
import json
import socket
import sys
import time
import uuid

import msgpack


def unpack(data):
    """Decodes a msgpack result entry: extension type 0 (JavaScript undefined) reads as None."""

    def ext_hook(code, payload):
        if code == 0:
            return None
        return msgpack.ExtType(code, payload)

    return msgpack.unpackb(data, raw=False, ext_hook=ext_hook, strict_map_key=False, timestamp=3)


class Msg:
    def __init__(self, subject, reply, headers, status, data):
        self.subject = subject
        self.reply = reply
        self.headers = headers  # lower-cased names -> first value
        self.status = status  # e.g. "404 Message Not Found", "" when none
        self.data = data


class Nats:
    """The NATS text protocol over one socket, single-threaded: messages are read while waiting."""

    def __init__(self, host, port, timeout=30.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""
        self.sid = 0
        self.queues = {}  # sid -> list of Msg
        self.pongs = 0
        info = self._line()
        if not info.startswith(b"INFO "):
            raise RuntimeError(f"expected INFO, got {info!r}")
        self.info = json.loads(info[5:])
        connect = {"verbose": False, "pedantic": False, "headers": True, "no_responders": True, "protocol": 1, "lang": "python-raw", "version": "0.1"}
        self._send(b"CONNECT " + json.dumps(connect).encode() + b"\r\n")
        self.flush()
        self.inbox = "_INBOX." + uuid.uuid4().hex
        self.req_sid = self.subscribe(self.inbox + ".*")
        self.req_n = 0

    # -- wire --
    def _send(self, b):
        self.sock.sendall(b)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise RuntimeError("connection closed by the server")
        self.buf += chunk

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _take(self, n):
        while len(self.buf) < n + 2:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def _read_one(self):
        line = self._line()
        op = line.split(b" ", 1)[0].upper()
        if op == b"PING":
            self._send(b"PONG\r\n")
        elif op == b"PONG":
            self.pongs += 1
        elif op in (b"+OK", b"INFO"):
            pass
        elif op == b"-ERR":
            raise RuntimeError(line.decode())
        elif op == b"MSG":
            parts = line.decode().split(" ")
            subject, sid = parts[1], int(parts[2])
            reply = parts[3] if len(parts) == 5 else None
            data = self._take(int(parts[-1]))
            self.queues.setdefault(sid, []).append(Msg(subject, reply, {}, "", data))
        elif op == b"HMSG":
            parts = line.decode().split(" ")
            subject, sid = parts[1], int(parts[2])
            reply = parts[3] if len(parts) == 6 else None
            hlen, total = int(parts[-2]), int(parts[-1])
            raw = self._take(total)
            block, data = raw[:hlen], raw[hlen:]
            lines = block.decode().split("\r\n")
            status = lines[0][len("NATS/1.0"):].strip()
            headers = {}
            for h in lines[1:]:
                if ":" in h:
                    k, v = h.split(":", 1)
                    headers.setdefault(k.strip().lower(), v.strip())
            self.queues.setdefault(sid, []).append(Msg(subject, reply, headers, status, data))
        else:
            raise RuntimeError(f"unexpected protocol line {line!r}")

    def wait(self, predicate, timeout):
        """Reads messages until predicate() is true; False after timeout seconds."""
        deadline = time.monotonic() + timeout
        while not predicate():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            if b"\r\n" not in self.buf:
                self.sock.settimeout(left)
                try:
                    self._fill()
                except socket.timeout:
                    return predicate()
                finally:
                    self.sock.settimeout(30.0)
            self._read_one_if_complete()
        return True

    def _read_one_if_complete(self):
        # Every frame starts with a line; _read_one blocks for the rest, which the server sends at once.
        if b"\r\n" in self.buf:
            self._read_one()

    def flush(self, timeout=10.0):
        """PING and wait for its PONG: everything sent before is processed by the server."""
        want = self.pongs + 1
        self._send(b"PING\r\n")
        if not self.wait(lambda: self.pongs >= want, timeout):
            raise RuntimeError("no PONG")

    def subscribe(self, subject):
        self.sid += 1
        self.queues[self.sid] = []
        self._send(f"SUB {subject} {self.sid}\r\n".encode())
        return self.sid

    def unsubscribe(self, sid):
        self._send(f"UNSUB {sid}\r\n".encode())
        self.queues.pop(sid, None)

    def publish(self, subject, data, headers=None, reply=None):
        r = f" {reply}" if reply else ""
        if headers:
            block = "NATS/1.0\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
            hb = block.encode()
            self._send(f"HPUB {subject}{r} {len(hb)} {len(hb) + len(data)}\r\n".encode() + hb + data + b"\r\n")
        else:
            self._send(f"PUB {subject}{r} {len(data)}\r\n".encode() + data + b"\r\n")

    def request(self, subject, data, headers=None, timeout=10.0):
        self.req_n += 1
        reply = f"{self.inbox}.{self.req_n}"
        self.publish(subject, data, headers, reply)
        q = self.queues[self.req_sid]
        found = []

        def got():
            for m in q:
                if m.subject == reply:
                    found.append(m)
                    q.remove(m)
                    return True
            return False

        if not self.wait(got, timeout):
            raise RuntimeError(f"no reply to {subject}")
        return found[0]


class Taskd:
    """What docs/PROTOCOL.md says a client does."""

    def __init__(self, nc, prefix="taskd"):
        self.nc = nc
        self.prefix = prefix
        self.P = prefix.upper()
        self.bucket = f"{prefix}_results"
        # Replies: one inbox per client, subscribed before any task is sent.
        self.reply_inbox = "_INBOX." + uuid.uuid4().hex
        self.reply_sid = nc.subscribe(self.reply_inbox + ".>")
        self.data = {}  # id -> entry from .d / .r
        self.stored = set()  # ids with a successful .s ack
        self.settled = {}  # id -> entry

    # -- streams and buckets ("Streams and buckets") --
    def ensure(self):
        base = {"storage": "file", "num_replicas": 1, "max_msg_size": -1, "max_consumers": -1, "deny_delete": False, "deny_purge": False}
        configs = {
            f"{self.P}_TASKS": {**base, "subjects": [f"{self.prefix}.tasks.>"], "retention": "workqueue", "duplicate_window": 60_000_000_000, "max_age": 0, "max_msgs_per_subject": -1, "max_msgs": 10_000_000, "max_bytes": -1, "discard": "new", "allow_direct": False, "allow_rollup_hdrs": False},
            f"KV_{self.bucket}": {**base, "subjects": [f"$KV.{self.bucket}.>"], "retention": "limits", "duplicate_window": 120_000_000_000, "max_age": 86_400_000_000_000, "max_msgs_per_subject": 1, "max_msgs": 1_000_000, "max_bytes": 536_870_912, "discard": "old", "allow_direct": True, "allow_rollup_hdrs": True},
        }
        out = {}
        for name, cfg in configs.items():
            r = json.loads(self.nc.request(f"$JS.API.STREAM.CREATE.{name}", json.dumps({"name": name, **cfg}).encode()).data)
            err = r.get("error")
            if err and err.get("err_code") != 10058:
                raise RuntimeError(f"cannot create {name}: {err}")
            out[name] = "exists" if err else "ok"
        return out

    # -- sending ("A task message", "Publishing") --
    def send(self, task, args, kwargs=None, task_id=None, reply=True, protocol="1", extra=None):
        task_id = task_id or str(uuid.uuid4())
        headers = {
            "Taskd-Protocol": protocol,
            "Taskd-Task": task,
            "Taskd-Id": task_id,
            "Taskd-Retries": "0",
            "Taskd-Queue": "default",
            "Content-Type": "application/x-msgpack",
            "Nats-Msg-Id": f"{task_id}:0",
        }
        if reply:
            headers["Taskd-Reply-To"] = self.reply_inbox
        headers.update(extra or {})
        body = msgpack.packb([list(args), kwargs, None], use_bin_type=True)
        ack = self.nc.request(f"{self.prefix}.tasks.default", body, headers)
        if ack.status.startswith("503"):
            raise RuntimeError("no stream for the tasks: create it first")
        a = json.loads(ack.data)
        if "error" in a:
            raise RuntimeError(f"publish refused: {a['error']}")
        return task_id

    # -- replies ("Replies") --
    def _drain_replies(self):
        q = self.nc.queues[self.reply_sid]
        while q:
            m = q.pop(0)
            kind = m.subject[len(self.reply_inbox) + 1:]
            if kind in ("d", "r"):
                entry = unpack(m.data)
                tid = entry.get("taskId")
                if tid is None:
                    continue
                if kind == "r" or tid in self.stored:
                    self.settled.setdefault(tid, entry)
                else:
                    self.data[tid] = entry
            elif kind.startswith("s."):
                tokens = m.subject.split(".")
                # _INBOX . <token> . s . <worker> . <token> . <id with dots>
                tid = ".".join(tokens[5:])
                ack = json.loads(m.data)
                if "error" in ack or not tid:
                    continue
                if tid in self.data:
                    self.settled.setdefault(tid, self.data.pop(tid))
                else:
                    self.stored.add(tid)

    def wait_reply(self, task_id, timeout=20.0):
        def done():
            self._drain_replies()
            return task_id in self.settled

        if not self.nc.wait(done, timeout):
            raise RuntimeError(f"no reply for {task_id}")
        return self.settled[task_id]

    # -- reading ("Reading a result") --
    def read_direct(self, task_id):
        m = self.nc.request(f"$JS.API.DIRECT.GET.KV_{self.bucket}", json.dumps({"last_by_subj": f"$KV.{self.bucket}.{task_id}"}).encode())
        if m.status.startswith("404"):
            return None
        if m.status:
            raise RuntimeError(f"direct get: {m.status}")
        if "kv-operation" in m.headers or not m.data:
            return None
        return unpack(m.data)

    def read_msg_get(self, task_id):
        m = self.nc.request(f"$JS.API.STREAM.MSG.GET.KV_{self.bucket}", json.dumps({"last_by_subj": f"$KV.{self.bucket}.{task_id}"}).encode())
        r = json.loads(m.data)
        if "error" in r:
            if r["error"].get("code") == 404:
                return None
            raise RuntimeError(f"msg get: {r['error']}")
        msg = r["message"]
        hdrs = base64.b64decode(msg.get("hdrs", "")).decode()
        data = base64.b64decode(msg.get("data", ""))
        if "kv-operation:" in hdrs.lower() or not data:
            return None
        return unpack(data)

    # -- waiting without replies ("Waiting for a result") --
    def wait_kv(self, task_id, timeout=20.0):
        ready = ("SUCCESS", "FAILURE", "REVOKED")
        sid = self.nc.subscribe(f"$KV.{self.bucket}.{task_id}")
        self.nc.flush()
        found = []

        def consider(entry):
            if entry is not None and entry.get("status") in ready:
                found.append(entry)

        consider(self.read_direct(task_id))
        second_read = time.monotonic() + 0.25

        def done():
            nonlocal second_read
            q = self.nc.queues.get(sid, [])
            while q:
                m = q.pop(0)
                if "kv-operation" not in m.headers and m.data:
                    consider(unpack(m.data))
            if not found and second_read is not None and time.monotonic() >= second_read:
                second_read = None
                consider(self.read_direct(task_id))
            return bool(found)

        ok = self.nc.wait(done, timeout) if not found else True
        self.nc.unsubscribe(sid)
        if not ok:
            raise RuntimeError(f"no result for {task_id}")
        return found[0]


def show(case, entry, **more):
    r = entry.get("result")
    out = {"case": case, "status": entry.get("status"), "taskId": entry.get("taskId")}
    if entry.get("status") == "SUCCESS":
        out["result"] = r
    elif isinstance(r, dict):
        out["type"] = r.get("type")
        out["message"] = r.get("message")
    out.update(more)
    print(json.dumps(out), flush=True)


def main():
    argv = [a for a in sys.argv[1:] if not a.startswith("--")]
    host, port = argv[0], int(argv[1])
    prefix = argv[2] if len(argv) > 2 else "taskd"
    nc = Nats(host, port)
    t = Taskd(nc, prefix)
    print(json.dumps({"case": "ensure", "streams": t.ensure()}), flush=True)
    if "--ensure-only" in sys.argv:
        return

    # 1. tasks.add(2, 3) with a reply inbox; the id holds dots (the .s ack subject carries it).
    tid = t.send("tasks.add", [2, 3], task_id=f"outside.add.{uuid.uuid4().hex}")
    show("add_reply", t.wait_reply(tid))

    # 2. tasks.add(40, 2) without replies: subscribe, flush, read, read again.
    tid = t.send("tasks.add", [40, 2], reply=False)
    show("add_kv", t.wait_kv(tid))

    # 3. wrong arity: a FAILURE, by reply.
    tid = t.send("tasks.add", [1, 2, 3])
    show("arity", t.wait_reply(tid))

    # 4. kwargs bind by name: add(x=2, y=3 by name); and an unknown keyword is a TypeError.
    tid = t.send("tasks.add", [2], {"y": 3})
    show("kwargs", t.wait_reply(tid))
    tid = t.send("tasks.add", [], {"y": 30, "x": 12}, reply=False)
    show("kwargs_only", t.wait_kv(tid))
    tid = t.send("tasks.add", [2, 3], {"z": 1})
    show("kwargs_unknown", t.wait_reply(tid))
    tid = t.send("tasks.scale", [4], {"factor": 3})
    show("kwargs_options", t.wait_reply(tid))

    # 5. a protocol version no worker speaks: a FAILURE too, not a silent dead letter.
    tid = t.send("tasks.add", [1, 1], protocol="2")
    show("version2", t.wait_reply(tid))

    # 6. reading a stored result both ways, and one that does not exist.
    by_direct = t.read_direct(tid)
    by_msg_get = t.read_msg_get(tid)
    print(json.dumps({"case": "reads", "direct": by_direct.get("status"), "msg_get": by_msg_get.get("status"), "missing_direct": t.read_direct("no-such-id"), "missing_msg_get": t.read_msg_get("no-such-id")}), flush=True)
    print(json.dumps({"case": "done"}), flush=True)


if __name__ == "__main__":
    main()
