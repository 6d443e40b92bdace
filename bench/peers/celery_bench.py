# Celery driver for taskd's benchmark: the workloads of bench/lib/workloads.ts (W2, W1, W1e,
# W4, optional W3, idle RSS and start-to-ready time), mirrored in Python because Celery's client
# is Python. Keep the two in step. Writes its result JSON to $BENCH_OUT.
# Usage: /usr/bin/python3 bench/peers/celery_bench.py <system name> [prefork|threads]
import json
import math
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from celery_tasks import add, app, sleep, stamp  # noqa: E402

NAME = sys.argv[1] if len(sys.argv) > 1 else "celery"
# prefork (Celery's default pool). The threads pool was tried: W4 (50 ms sleeps, -c 8) took 36x
# its ideal time on this Redis transport, so it would misrepresent Celery.
POOL = sys.argv[2] if len(sys.argv) > 2 else "prefork"
QUICK = os.environ.get("BENCH_QUICK") == "1"


def num(name, full, small):
    v = os.environ.get(name, "")
    return float(v) if v else (small if QUICK else full)


CONFIG = {
    "quick": QUICK,
    "w1": int(num("BENCH_W1_N", 20000, 5000)),
    "w1e": int(num("BENCH_W1E_N", 20000, 5000)),
    "w2": int(num("BENCH_W2_N", 2000, 300)),
    "w2Warmup": int(num("BENCH_W2_WARMUP", 200, 50)),
    "w3": os.environ.get("BENCH_W3") == "1",
    # Celery sends ~1-2k tasks/s: 100k would take longer than the countdown itself
    "w3n": int(num("BENCH_W3_CELERY_N", 20000, 5000)),
    "w3Countdown": num("BENCH_W3_COUNTDOWN", 30, 10),
    "w4": int(num("BENCH_W4_N", 1000, 200)),
    "w4Concurrency": 8,
    "w4SleepMs": 50,
    # prefork forks one process per slot: Celery's default, one per core, not 100
    "concurrency": int(num("BENCH_CELERY_CONCURRENCY", os.cpu_count() or 2, os.cpu_count() or 2)),
    "timeoutS": num("BENCH_TIMEOUT", 180, 120),
    "pool": POOL,
}
TIMEOUT = CONFIG["timeoutS"]


def log(msg):
    sys.stderr.write(f"[{NAME}] {msg}\n")
    sys.stderr.flush()


def percentile(xs, p):
    if not xs:
        return float("nan")
    i = min(len(xs) - 1, max(0, math.ceil(p / 100 * len(xs)) - 1))
    return xs[i]


def process_tree(pid):
    """pid and its descendants (prefork children). Mirrors lib/common.ts."""
    children = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                s = f.read()
            ppid = int(s[s.rindex(")") + 2:].split(" ")[1])
            children.setdefault(ppid, []).append(int(d))
        except (OSError, ValueError):
            pass
    tree, todo = [], [pid]
    while todo:
        p = todo.pop()
        tree.append(p)
        todo.extend(children.get(p, []))
    return tree


def tree_rss_mib(pid):
    """Resident memory of pid and its descendants (prefork children), MiB."""
    total = 0
    for p in process_tree(pid):
        try:
            with open(f"/proc/{p}/status") as f:
                m = re.search(r"VmRSS:\s+(\d+)", f.read())
            if m:
                total += int(m.group(1))
        except OSError:
            pass
    return round(total / 1024, 1)


def cpu_s(pid):
    """CPU seconds (user + system) one process has used so far: stat(5) utime + stime."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
        fields = s[s.rindex(")") + 2:].split(" ")
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError):
        return 0.0


def cpu_meter(worker_pid):
    """A CPU meter for this process (the client), the worker's tree and the broker's tree: the
    trees are walked once, here, so that a sample reads only their stat files. Mirrors lib/common.ts."""
    broker = int(os.environ.get("BENCH_BROKER_PID", "0") or 0)
    workers = process_tree(worker_pid)
    servers = process_tree(broker) if broker > 0 else None
    return lambda: {"client": cpu_s(os.getpid()), "worker": sum(cpu_s(p) for p in workers),
                    "server": sum(cpu_s(p) for p in servers) if servers else None}


def broker_rss():
    pid = int(os.environ.get("BENCH_BROKER_PID", "0") or 0)
    return tree_rss_mib(pid) if pid > 0 else None


class Worker:
    """A Celery worker process; ready once its log says 'ready.'."""

    def __init__(self, concurrency):
        here = os.path.dirname(os.path.abspath(__file__))
        pool = ["-P", "threads"] if POOL == "threads" else ["-P", "prefork"]
        cmd = [sys.executable, "-m", "celery", "-A", "celery_tasks", "worker", *pool,
               "-c", str(concurrency), "--loglevel", "INFO", "-n", f"bench{concurrency}@%h",
               "--without-gossip", "--without-mingle", "--without-heartbeat"]
        t0 = time.perf_counter()
        # The worker's output goes to a file, not to this driver (reading per-task log lines would
        # cost the client's process); BENCH_VERBOSE pipes it here. Mirrors lib/common.ts.
        verbose = os.environ.get("BENCH_VERBOSE") == "1"
        self.log_path = None
        if verbose:
            out = subprocess.PIPE
        else:
            fd, self.log_path = tempfile.mkstemp(prefix="taskd-bench-celery-", suffix=".log")
            out = fd
        self.proc = subprocess.Popen(cmd, cwd=here, stdout=out, stderr=subprocess.STDOUT,
                                     start_new_session=True, text=True)
        if not verbose:
            os.close(fd)
        pidfile = os.environ.get("BENCH_PIDFILE")
        if pidfile:
            with open(pidfile, "a") as f:
                f.write(f"{self.proc.pid}\n")
        self.pid = self.proc.pid
        ready = threading.Event()
        tail = []

        def lines():
            if verbose:
                yield from self.proc.stdout
                return
            with open(self.log_path, "r", errors="replace") as f:
                partial = ""
                while not ready.is_set():
                    chunk = f.read()
                    if not chunk:
                        if self.proc.poll() is not None:
                            return
                        time.sleep(0.005)
                        continue
                    partial += chunk
                    *complete, partial = partial.split("\n")
                    for line in complete:
                        yield line + "\n"

        def pump():
            for line in lines():
                tail.append(line.rstrip())
                del tail[:-30]
                if os.environ.get("BENCH_VERBOSE") == "1":
                    log("worker: " + line.rstrip())
                if not ready.is_set() and re.search(r"\bready\b", line, re.I):
                    self.ready_ms = round((time.perf_counter() - t0) * 1000)
                    ready.set()

        threading.Thread(target=pump, daemon=True).start()
        deadline = time.time() + 60
        while not ready.wait(0.05):
            if self.proc.poll() is not None or time.time() > deadline:
                self.stop()
                raise RuntimeError("Cannot start the Celery worker: no 'ready' line:\n" + "\n".join(tail))

    def stop(self):
        self._stop()
        if self.log_path:
            try:
                os.unlink(self.log_path)
            except OSError:
                pass

    def _stop(self):
        if self.proc.poll() is not None:
            return
        try:
            os.killpg(self.pid, signal.SIGTERM)
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            log(f"worker {self.pid} ignored SIGTERM for 15 s: SIGKILL")
            os.killpg(self.pid, signal.SIGKILL)
            self.proc.wait()
        except ProcessLookupError:
            pass


def attempt(out, key, label, fn):
    t0 = time.perf_counter()
    try:
        out[key] = fn()
        log(f"{label}: {json.dumps(out[key])} ({time.perf_counter() - t0:.1f} s)")
    except Exception as e:  # one workload failing must not hide the others
        out[key] = {"error": str(e).split("\n")[0]}
        log(f"{label} failed: {e!r}")


def w2():
    t2 = min(TIMEOUT, 30)  # one tiny task: a result missing for 30 s is a lost one
    for _ in range(CONFIG["w2Warmup"]):
        add.delay(2, 3).get(timeout=t2)
    lat = []
    for i in range(CONFIG["w2"]):
        t = time.perf_counter()
        try:
            v = add.delay(i, 1).get(timeout=t2)
        except Exception as e:
            raise RuntimeError(f"round trip {i + 1} of {CONFIG['w2']}: {e}") from e
        lat.append((time.perf_counter() - t) * 1000)
        if v != i + 1:
            raise RuntimeError(f"W2: add({i}, 1) returned {v!r}")
    lat.sort()
    return {"n": CONFIG["w2"], "p50": round(percentile(lat, 50), 3), "p90": round(percentile(lat, 90), 3),
            "p99": round(percentile(lat, 99), 3)}


def w1(worker_pid):
    n = CONFIG["w1"]
    cpu = cpu_meter(worker_pid)  # CPU time of client, worker and broker across W1, µs per task
    cpu0 = cpu()
    t = time.perf_counter()
    rs = [add.delay(i, 1) for i in range(n)]
    sent = time.perf_counter() - t
    for r in rs:
        r.get(timeout=TIMEOUT)
    s = time.perf_counter() - t
    cpu1 = cpu()
    cpu_us = {k: None if cpu0[k] is None else round((cpu1[k] - cpu0[k]) * 1e6 / n, 1) for k in cpu0}
    return {"n": n, "seconds": round(s, 3), "perS": round(n / s), "sendPerS": round(n / sent), "cpuUs": cpu_us}


def main():
    out = {"system": NAME, "runtime": f"python{sys.version_info.major}.{sys.version_info.minor}",
           "config": CONFIG}
    t0 = time.perf_counter()
    with app.connection_for_write() as conn:  # a clean slate: drop queued tasks and old results
        conn.default_channel.client.flushdb()
    app.backend.client.flushdb()
    w = None
    try:
        w = Worker(CONFIG["concurrency"])
        time.sleep(1)
        out["idle"] = {"readyMs": w.ready_ms, "rssMiB": tree_rss_mib(w.pid)}
        log(f"idle: {json.dumps(out['idle'])}")
        attempt(out, "w2", "W2", w2)
        attempt(out, "w1", "W1", lambda: w1(w.pid))
        out["w1RssMiB"] = tree_rss_mib(w.pid)
        w.stop()
        w = None

        backlog = []

        def w1e():
            n = CONFIG["w1e"]
            t = time.perf_counter()
            for i in range(n):
                backlog.append(add.delay(i, 1))
            s = time.perf_counter() - t
            return {"n": n, "seconds": round(s, 3), "perS": round(n / s)}

        attempt(out, "w1e", "W1e", w1e)
        w = Worker(CONFIG["w4Concurrency"])

        def drain():
            t = time.perf_counter()
            for r in backlog:
                r.get(timeout=TIMEOUT)
            return {"n": len(backlog), "seconds": round(time.perf_counter() - t, 3)}

        attempt(out, "w1eDrain", "W1e drain", drain)

        def w4():
            n, c, ms = CONFIG["w4"], CONFIG["w4Concurrency"], CONFIG["w4SleepMs"]
            ideal = n * ms / 1000 / c
            t = time.perf_counter()
            rs = [sleep.delay(ms) for _ in range(n)]
            for r in rs:
                r.get(timeout=TIMEOUT)
            s = time.perf_counter() - t
            return {"n": n, "concurrency": c, "seconds": round(s, 3), "ideal": round(ideal, 3),
                    "overIdeal": round(s / ideal, 3)}

        attempt(out, "w4", "W4", w4)
        w.stop()
        w = None

        if CONFIG["w3"]:
            w = Worker(CONFIG["concurrency"])
            time.sleep(1)

            def w3():
                n, cd = CONFIG["w3n"], CONFIG["w3Countdown"]
                before, broker_before = tree_rss_mib(w.pid), broker_rss()
                peak = [before]
                stop = threading.Event()

                def sample():
                    while not stop.wait(0.5):
                        peak[0] = max(peak[0], tree_rss_mib(w.pid))

                threading.Thread(target=sample, daemon=True).start()
                try:
                    t = time.perf_counter()
                    sent = []
                    for _ in range(n):
                        eta = time.time() * 1000 + cd * 1000
                        sent.append((stamp.apply_async(countdown=cd), eta))
                    send_s = time.perf_counter() - t
                    holding, broker_holding = tree_rss_mib(w.pid), broker_rss()
                    late = sorted((r.get(timeout=cd + TIMEOUT * 2) - eta) / 1000 for r, eta in sent)
                    time.sleep(1)
                finally:
                    stop.set()
                return {"n": n, "countdown": cd, "sendS": round(send_s, 2),
                        "lateMin": round(late[0], 3), "lateP50": round(percentile(late, 50), 3), "lateP99": round(percentile(late, 99), 3),
                        "lateMax": round(late[-1], 3), "early": sum(1 for x in late if x < -0.01),
                        "rssBefore": before, "rssHolding": holding, "rssPeak": peak[0],
                        "rssAfter": tree_rss_mib(w.pid), "brokerBefore": broker_before,
                        "brokerHolding": broker_holding, "brokerAfter": broker_rss()}

            attempt(out, "w3", "W3", w3)
            w.stop()
            w = None
    except Exception as e:
        out["error"] = str(e).split("\n")[0]
        log(f"failed: {e!r}")
    finally:
        if w:
            w.stop()
    out["totalS"] = round(time.perf_counter() - t0, 1)
    text = json.dumps(out, indent=2) + "\n"
    if os.environ.get("BENCH_OUT"):
        with open(os.environ["BENCH_OUT"], "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
