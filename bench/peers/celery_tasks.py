# Celery app for taskd's benchmark: the same three tasks (add, sleep, stamp) on Redis,
# results in Redis. Run with Debian's /usr/bin/python3 (python3-celery, python3-redis).
# REDIS_PORT names the server; broker on db 0, results on db 1.
import os
import time

from celery import Celery

port = os.environ.get("REDIS_PORT", "6379")
app = Celery("bench", broker=f"redis://127.0.0.1:{port}/0", backend=f"redis://127.0.0.1:{port}/1")
app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    broker_connection_retry_on_startup=True,
)


@app.task(name="bench.add")
def add(x, y):
    return x + y


@app.task(name="bench.sleep")
def sleep(ms):
    time.sleep(ms / 1000)
    return ms


@app.task(name="bench.stamp")
def stamp():
    return time.time() * 1000
