"""The embedded stack for benchmarks: `sandbox-broker up` in a child process, plus extras.

`up` runs moto, the fake CSP, the gateway and its consumer processes; benchmarks that need
more (a consumer to SIGKILL and restart, faults, metrics) get them here. Every token is
chosen by us and handed to `up` through its environment, so the CSP token — which the
ready file does not carry — is known to the extra consumers too.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.subprocesses import free_port

#: Start-up covers moto, provisioning, the fake CSP, consumers and a first sync of the pool.
START_TIMEOUT_S = 600.0


@dataclass
class Consumer:
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def kill(self) -> None:
        """SIGKILL: nothing is released or acknowledged; its messages come back later."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def terminate(self, timeout: float = 30) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()


@dataclass
class BenchStack:
    info: dict[str, Any]
    process: subprocess.Popen[bytes]
    workdir: Path
    env: dict[str, str]
    extra: list[Consumer] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.info["gateway_url"]

    @property
    def moto(self) -> str:
        return self.info["aws_endpoint_url"]

    @property
    def csp_admin(self) -> str:
        return self.info["csp_url"].removesuffix("/api")

    @property
    def consumer_urls(self) -> list[str]:
        return [
            *self.info["consumer_urls"],
            *(c.url for c in self.extra if c.process.poll() is None),
        ]

    @property
    def admin_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.info['admin_token']}"}

    def consumer_env(self, **extra: str) -> dict[str, str]:
        """The environment `up` gives its consumers (the same moto, CSP and names)."""
        env = dict(self.env)
        env.update(
            BROKER_AWS_ENDPOINT_URL=self.moto,
            BROKER_CSP_BASE_URL=self.info["csp_url"],
            BROKER_NAME_PREFIX=self.info["name_prefix"],
            AWS_ACCESS_KEY_ID="embedded",
            AWS_SECRET_ACCESS_KEY="embedded",
            **extra,
        )
        return env

    def add_consumer(self, name: str = "extra", **extra_env: str) -> Consumer:
        port = free_port()
        log = self.workdir / f"{name}-{len(self.extra)}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "infra", "consumer"],
                env=self.consumer_env(BROKER_HTTP_PORT=str(port), **extra_env),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        consumer = Consumer(proc, f"http://127.0.0.1:{port}", log)
        self.extra.append(consumer)
        return consumer

    def check_alive(self) -> None:
        """Raise when `up` or one of its consumers is gone (something outside killed it)."""
        if self.process.poll() is not None:
            raise RuntimeError(f"the stack exited ({self.process.returncode})")
        for pid in self.info["consumer_pids"]:
            try:
                os.kill(pid, 0)
                with open(f"/proc/{pid}/stat") as stat:  # a zombie is dead too
                    dead = stat.read().split(")")[-1].split()[0] == "Z"
            except (ProcessLookupError, FileNotFoundError):
                dead = True
            if dead:
                raise RuntimeError(f"consumer {pid} of the stack died (killed from outside?)")

    def queue_depth(self, queue: str) -> int:
        """Visible plus in-flight messages of one queue (name without the prefix)."""
        sqs = boto3.client(
            "sqs",
            endpoint_url=self.moto,
            region_name="us-east-1",
            aws_access_key_id="bench",
            aws_secret_access_key="bench",
        )
        url = sqs.get_queue_url(QueueName=self.info["name_prefix"] + queue)["QueueUrl"]
        attrs = sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"]) + int(
            attrs["ApproximateNumberOfMessagesNotVisible"]
        )

    def moto_calls(self) -> dict[str, int]:
        return httpx.get(self.moto + "/_embedded/calls", timeout=10).json()

    def set_throttle(self, rate: float) -> None:
        httpx.post(
            self.moto + "/_embedded/faults", json={"dynamodb_throttle_rate": rate}, timeout=10
        ).raise_for_status()

    def set_latency(self, latency: str | dict[str, float] | None) -> None:
        """Inject service latency into the embedded moto: "aws" (AWS-like), a map, or None."""
        httpx.post(
            self.moto + "/_embedded/faults", json={"latency": latency}, timeout=10
        ).raise_for_status()

    def set_csp_faults(self, **faults: Any) -> None:
        httpx.post(self.csp_admin + "/_fault", json=faults, timeout=10).raise_for_status()

    def csp_stats(self) -> dict[str, Any]:
        return httpx.get(self.csp_admin + "/_stats", timeout=10).json()

    def stats(self) -> dict[str, int]:
        resp = httpx.get(self.url + "/v1/admin/stats", headers=self.admin_headers, timeout=30)
        resp.raise_for_status()
        return resp.json()

    def metrics(self) -> dict[str, float]:
        """The consumers' Prometheus samples, summed over every live consumer."""
        total: dict[str, float] = {}
        for url in self.consumer_urls:
            try:
                text = httpx.get(url + "/metrics", timeout=10).text
            except httpx.HTTPError:
                continue
            for family in text_string_to_metric_families(text):
                for s in family.samples:
                    labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
                    key = f"{s.name}{{{labels}}}" if labels else s.name
                    total[key] = total.get(key, 0.0) + s.value
        return total


def start_stack(
    workdir: Path,
    *,
    pool_size: int,
    consumers: int = 1,
    env: dict[str, str] | None = None,
    scheduler: bool = False,
    events: bool = False,
) -> BenchStack:
    """`up --no-scheduler` (or with its scheduler) with our tokens; returns once its ready
    file is written.

    Without the events reader unless ``events``: the figures are the request path's (on AWS
    history and events are the stream Lambda's work, not the consumers' or the table's
    request traffic), comparable with the runs before v2."""
    workdir.mkdir(parents=True, exist_ok=True)
    ready = workdir / "ready.json"
    ready.unlink(missing_ok=True)
    child_env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BROKER_"))}
    child_env.update(
        BROKER_LOG_FORMAT="json",
        BROKER_LOG_LEVEL="INFO",
        BROKER_SHUTDOWN_TIMEOUT_S="10",
        BROKER_TRACK_TOKEN=secrets.token_urlsafe(24),
        BROKER_ADMIN_TOKEN=secrets.token_urlsafe(24),
        BROKER_CSP_TOKEN=secrets.token_urlsafe(16),
    )
    child_env.update(env or {})
    cmd = [
        sys.executable,
        "-m",
        "infra",
        "up",
        "--port",
        "0",
        "--consumer-port",
        "0",
        "--pool-size",
        str(pool_size),
        "--consumers",
        str(consumers),
        *([] if scheduler else ["--no-scheduler"]),
        *([] if events else ["--no-events"]),
        "--ready-file",
        str(ready),
    ]
    with (workdir / "stack.log").open("wb") as out:
        proc = subprocess.Popen(cmd, env=child_env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + START_TIMEOUT_S
    while not ready.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            tail = (workdir / "stack.log").read_text(errors="replace")[-4000:]
            raise RuntimeError(f"stack did not start:\n{tail}")
        time.sleep(0.2)  # another process writes the file; there is no event to wait on
    return BenchStack(json.loads(ready.read_text()), proc, workdir, child_env)


def stop_stack(stack: BenchStack) -> int:
    for consumer in stack.extra:
        consumer.terminate()
    if stack.process.poll() is None:
        stack.process.send_signal(signal.SIGTERM)
    try:
        return stack.process.wait(timeout=90)
    except subprocess.TimeoutExpired:
        stack.process.kill()
        return stack.process.wait()


@contextlib.contextmanager
def running_stack(workdir: Path, **kwargs: Any) -> Iterator[BenchStack]:
    stack = start_stack(workdir, **kwargs)
    try:
        yield stack
    finally:
        stop_stack(stack)


def _cpu_of(pid: int) -> float | None:
    """User + system CPU seconds of one process (None when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return found
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children") as f:
                found.extend(int(c) for c in f.read().split())
        except FileNotFoundError:
            continue
    return found


def rss_mb(pid: int) -> float | None:
    """Resident set size of one process in MiB (None when it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


def stack_pids(stack: BenchStack) -> dict[str, int]:
    """The stack's processes by role: up, moto, consumer-0, consumer-1, ..."""
    consumers = list(stack.info["consumer_pids"])
    pids = {"up": stack.process.pid}
    for child in _children(stack.process.pid):
        if child not in consumers:
            pids["moto"] = child
    pids.update({f"consumer-{i}": pid for i, pid in enumerate(consumers)})
    return pids


def cpu_snapshot(stack: BenchStack) -> dict[str, float]:
    """CPU seconds so far of every process of the stack, by role, and of this process.

    Roles: ``consumer`` (every consumer, summed), ``up`` (gateway and fake CSP), ``moto``
    (the embedded moto, a child of ``up``), ``loadgen`` (this process). Differences of two
    snapshots give a run's CPU time per role.
    """
    consumers = set(stack.info["consumer_pids"]) | {
        c.process.pid for c in stack.extra if c.process.poll() is None
    }
    out = {"consumer": 0.0, "up": 0.0, "moto": 0.0, "other": 0.0}
    out["up"] = _cpu_of(stack.process.pid) or 0.0
    for child in _children(stack.process.pid):
        cpu = _cpu_of(child) or 0.0
        role = "consumer" if child in consumers else "moto"
        out[role] += cpu
    for pid in consumers - set(_children(stack.process.pid)):
        out["consumer"] += _cpu_of(pid) or 0.0
    times = os.times()
    out["loadgen"] = times.user + times.system
    return out


def cpu_delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {k: round(after.get(k, 0.0) - before.get(k, 0.0), 2) for k in after}


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def wait_for(predicate: Any, *, timeout: float, what: str, interval: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(interval)
