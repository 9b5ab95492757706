"""``sandbox-broker up``: the whole system on one machine.

(Over 400 lines: the start and stop order of every part of the stack, in one place.)

Embedded default (no AWS account, no Docker): a moto server in a child process, the queues and
tables provisioned, a fake CSP seeded with sandboxes, the events reader (v2: lease history and
events from the pool table's stream), consumer processes, a first sync, the
scheduler and the gateway. With ``AWS_ENDPOINT_URL`` or ``--aws`` the same steps run against
that endpoint or AWS instead, skipping moto and the fake CSP. ``--localstack`` resolves a
running LocalStack the way localstack-client does (``infra/localstack.py``), runs the fake
CSP unless ``BROKER_CSP_BASE_URL`` names a portal, and checks the stack with ``smoke`` once
it is up (a deviation stops it, exit 1).

Ctrl-C (or SIGTERM) drains in order: the gateway stops taking requests, the scheduler
stops, consumers get SIGTERM and finish what they hold, then the fake CSP and moto stop;
``up`` says at once what is draining and reports each part as it stops. An idle stack
stops within about 3 s: on a local endpoint the consumers long-poll for 1 s
(``LOCAL_WAIT_TIME_S``), so no receive call holds a drain for 20 s. A second Ctrl-C
stops at once (``infra/embedded/shutdown.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import structlog
from rich.console import Console

from consumers.stores.clients import aws_clients
from consumers.stores.tracing import configure_tracing
from infra.aws import CLIENT_CONFIG
from infra.embedded import profile
from infra.embedded.children import spawn
from infra.embedded.moto_process import MotoProcess
from infra.embedded.server import QuietSignalServer
from infra.embedded.shutdown import Shutdown, abandon, draining
from infra.fake_csp import FakeCsp
from infra.localstack import health, resolve
from infra.provision import provision
from producers.enqueue import send
from producers.exits import ExitCode
from producers.gateway.app import create_app as create_gateway
from producers.gateway.server import CLIENT_CONFIG as GATEWAY_CLIENT_CONFIG
from producers.gateway.server import uvicorn_config
from producers.scheduler import Scheduler, schedules
from producers.smoke import SmokeOptions, run_smoke
from producers.smoke.report import print_table, verdict
from schemas.items import reply_from_item
from schemas.messages import SyncJob
from schemas.settings import CommonSettings, GatewaySettings, SchedulerSettings

log = structlog.get_logger(__name__)

#: Dummy credentials for the embedded moto server (it accepts any).
EMBEDDED_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "embedded", "AWS_SECRET_ACCESS_KEY": "embedded"}
#: How long the first sync may take before `up` gives up waiting and says so.
FIRST_SYNC_TIMEOUT_S = 60.0
#: Consumers' long poll on a local endpoint (moto, LocalStack), unless BROKER_WAIT_TIME_S
#: says otherwise: a stop waits for the receive calls in flight, and a local poll is free.
LOCAL_WAIT_TIME_S = "1"


@dataclass
class StackOptions:
    port: int = 8000
    host: str = "127.0.0.1"
    pool_size: int = 200
    consumers: int = 1
    scheduler: bool = True
    #: v2: run the events reader (`sandbox-broker events`).
    events: bool = True
    aws: bool = False
    ready_file: Path | None = None
    consumer_http_port: int = 8001
    shutdown_timeout_s: float = 30.0
    localstack: bool = False


@dataclass
class StackInfo:
    """What `up` prints, and writes to ``--ready-file`` as JSON for scripts and tests."""

    gateway_url: str
    track_token: str
    admin_token: str
    aws_endpoint_url: str | None
    csp_url: str | None
    name_prefix: str
    consumer_pids: list[int] = field(default_factory=list)
    consumer_urls: list[str] = field(default_factory=list)
    #: v2: the events reader's process (history and lease events), None when not started.
    events_pid: int | None = None


class Stack:
    def __init__(self, options: StackOptions) -> None:
        self.options = options
        self._moto: MotoProcess | None = None
        self._csp: FakeCsp | None = None
        self._children: list[subprocess.Popen[bytes]] = []
        self._consumer_ports: list[int] = []
        self._events: subprocess.Popen[bytes] | None = None
        self._stop = asyncio.Event()
        self._gateway: QuietSignalServer | None = None
        self.shutdown = Shutdown(
            Console(stderr=True), draining=self._draining, abandon=self._abandon
        )

    def request_stop(self) -> None:
        if self.shutdown.signal():
            self._stop.set()

    def _draining(self) -> str:
        return draining(
            gateway=self._gateway,
            scheduler=self.options.scheduler,
            consumers=self._children,
            drain_s=self.options.shutdown_timeout_s,
            others=[n for n, part in (("the fake CSP", self._csp), ("moto", self._moto)) if part],
        )

    def _abandon(self) -> str:
        return abandon(gateway=self._gateway, consumers=self._children, moto=self._moto)

    async def run(self) -> int:
        console = Console(stderr=True)
        env = dict(os.environ)
        base = CommonSettings()
        localstack = self.options.localstack
        embedded = not (self.options.aws or localstack or base.aws_endpoint_url)
        csp_token = env.get("BROKER_CSP_TOKEN") or secrets.token_urlsafe(24)
        if localstack:
            resolved = resolve()
            await asyncio.to_thread(health, resolved.endpoint.url or "")
            # localstack-client's dummy credentials: a real key is never sent to LocalStack.
            for key, value in {
                "BROKER_AWS_ENDPOINT_URL": resolved.endpoint.url or "",
                "AWS_ACCESS_KEY_ID": resolved.endpoint.access_key_id or "",
                "AWS_SECRET_ACCESS_KEY": resolved.endpoint.secret_access_key or "",
                "AWS_DEFAULT_REGION": resolved.endpoint.region,
            }.items():
                env[key] = value
                os.environ[key] = value
            env.pop("AWS_SESSION_TOKEN", None)
            os.environ.pop("AWS_SESSION_TOKEN", None)
            console.print(f"[green]LocalStack[/] at {resolved.endpoint.url} ({resolved.source})")
        if localstack and "BROKER_CSP_BASE_URL" not in env:
            self._csp = await asyncio.to_thread(
                FakeCsp(token=csp_token, accounts=self.options.pool_size).start
            )
            env["BROKER_CSP_BASE_URL"] = self._csp.url
            env["BROKER_CSP_TOKEN"] = csp_token
            console.print(f"[green]fake CSP[/] on {self._csp.admin_url}")
        if embedded:
            self._moto = await asyncio.to_thread(MotoProcess().start)
            for key, value in EMBEDDED_CREDENTIALS.items():
                env.setdefault(key, value)
                os.environ.setdefault(key, value)
            env["BROKER_AWS_ENDPOINT_URL"] = self._moto.url
            os.environ["BROKER_AWS_ENDPOINT_URL"] = self._moto.url
            console.print(f"[green]moto[/] embedded AWS on {self._moto.url}")
            self._csp = await asyncio.to_thread(
                FakeCsp(token=csp_token, accounts=self.options.pool_size).start
            )
            env["BROKER_CSP_BASE_URL"] = self._csp.url
            env["BROKER_CSP_TOKEN"] = csp_token
            console.print(
                f"[green]fake CSP[/] on {self._csp.admin_url} "
                f"with {self.options.pool_size} sandboxes"
            )
        base = CommonSettings()
        gateway_settings = GatewaySettings(
            port=self.options.port,
            host=self.options.host,
            track_token=env.get("BROKER_TRACK_TOKEN") or secrets.token_urlsafe(24),
            admin_token=env.get("BROKER_ADMIN_TOKEN") or secrets.token_urlsafe(24),
        )
        assert gateway_settings.track_token is not None
        assert gateway_settings.admin_token is not None
        # the gateway runs in this process (consumers set up their own from the same env)
        if configure_tracing(gateway_settings, service="sandbox-broker-gateway"):
            console.print(f"[green]tracing[/] {gateway_settings.tracing}")
        code = 0
        try:
            async with (
                aws_clients(base, CLIENT_CONFIG) as aws,
                contextlib.AsyncExitStack() as exits,
            ):
                report = await provision(base, sqs=aws.sqs, ddb=aws.ddb)
                console.print(
                    f"[green]provisioned[/] {sum(1 for _, c in report.changes)} resources "
                    f"({'changed' if report.changed else 'already in place'})"
                )
                # v2: the events reader (history, lease events) reads the stream from its
                # start, so what the consumers do from now on is all recorded.
                if self.options.events:
                    self._events = spawn([sys.executable, "-m", "infra", "events"], env=env)
                self._start_consumers(env)
                # The seeds' runbook reads the pool from the API: the gateway's /metrics
                # also serves the consumers' broker_* series (each once).
                served = gateway_settings.model_copy(
                    update={
                        "metrics_federate_urls": [
                            f"http://127.0.0.1:{port}/metrics" for port in self._consumer_ports
                        ]
                    }
                )
                await self._first_sync(aws, base, console)
                scheduler = Scheduler(
                    aws.sqs,
                    queue_url=(await aws.sqs.get_queue_url(QueueName=base.names.jobs_queue))[
                        "QueueUrl"
                    ],
                    plan=schedules(SchedulerSettings()),
                )
                tasks = []
                if self.options.scheduler:
                    tasks.append(asyncio.create_task(scheduler.run()))
                gateway_aws = await exits.enter_async_context(
                    aws_clients(gateway_settings, GATEWAY_CLIENT_CONFIG)
                )
                gateway = QuietSignalServer(
                    uvicorn_config(
                        create_gateway(served, sqs=gateway_aws.sqs, ddb=gateway_aws.ddb),
                        host=self.options.host,
                        port=self.options.port,
                        # keep-alive pollers must not hold a drain open
                        timeout_graceful_shutdown=5,
                    )
                )
                tasks.append(asyncio.create_task(gateway.serve()))
                self._gateway = gateway
                while not gateway.started:
                    if tasks[-1].done():
                        await tasks[-1]
                        raise RuntimeError("the gateway did not start")
                    await asyncio.sleep(0.02)  # uvicorn exposes no start event
                url = f"http://{self.options.host}:{gateway.port}"
                info = StackInfo(
                    gateway_url=url,
                    track_token=gateway_settings.track_token.get_secret_value(),
                    admin_token=gateway_settings.admin_token.get_secret_value(),
                    aws_endpoint_url=base.aws_endpoint_url,
                    csp_url=self._csp.url if self._csp else None,
                    name_prefix=base.name_prefix,
                    consumer_pids=[c.pid for c in self._children],
                    consumer_urls=[f"http://127.0.0.1:{p}" for p in self._consumer_ports],
                    events_pid=self._events.pid if self._events else None,
                )
                self._announce(info)
                profile.leave(
                    profile.chosen(None),
                    {
                        "BROKER_GATEWAY_URL": info.gateway_url,
                        "BROKER_TRACK_TOKEN": info.track_token,
                        "BROKER_ADMIN_TOKEN": info.admin_token,
                    },
                    base,
                    dummy_credentials=embedded or localstack,
                )
                self._mark_ready(info)
                if localstack and not await self._smoke(info, console):
                    code = int(ExitCode.FAILED)
                    self._stop.set()
                await self._stop.wait()
                with self.shutdown.step("gateway and scheduler stopped"):
                    gateway.should_exit = True
                    scheduler.stop()
                    await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            if (profile_path := profile.chosen(None)) is not None:
                profile.remove(profile_path)
            with self.shutdown.step("consumers drained and exited"):
                await asyncio.to_thread(self._stop_consumers)
            with self.shutdown.step("events reader stopped"):
                await asyncio.to_thread(self._stop_events)
            with self.shutdown.step("fake CSP and moto stopped"):
                await asyncio.gather(
                    asyncio.to_thread(self._csp.stop) if self._csp else asyncio.sleep(0),
                    # its state lives in its memory and goes with it: no drain to wait for
                    asyncio.to_thread(self._moto.stop, 0) if self._moto else asyncio.sleep(0),
                )
        self.shutdown.done()
        return code

    def _start_consumers(self, env: dict[str, str]) -> None:
        for i in range(self.options.consumers):
            port = self.options.consumer_http_port + i if self.options.consumer_http_port else 0
            port = port or _free_port()
            self._consumer_ports.append(port)
            child_env = dict(env, BROKER_HTTP_PORT=str(port))
            # each child prefers its own share of the candidates (no cross-process races)
            child_env.setdefault("BROKER_CANDIDATE_SHARD", f"{i}/{self.options.consumers}")
            if not self.options.aws:  # moto or LocalStack: local, polls cost nothing
                child_env.setdefault("BROKER_WAIT_TIME_S", LOCAL_WAIT_TIME_S)
            self._children.append(spawn([sys.executable, "-m", "infra", "consumer"], env=child_env))

    def _stop_consumers(self) -> None:
        for child in self._children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.options.shutdown_timeout_s + 5
        for child in self._children:
            try:
                child.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                log.warning("consumer_kill", pid=child.pid)
                child.kill()
                child.wait()

    def _stop_events(self) -> None:
        """After the consumers: it publishes what they did last, then stops at its checkpoint."""
        child = self._events
        if child is None or child.poll() is not None:
            return
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            log.warning("events_kill", pid=child.pid)
            child.kill()
            child.wait()

    async def _first_sync(self, aws: Any, base: CommonSettings, console: Console) -> None:
        """Fill the pool from the CSP through the real path: a sync job and its reply."""
        job = SyncJob(request_id=f"up_sync_{int(time.time())}", requested_by="admin")
        url = (await aws.sqs.get_queue_url(QueueName=base.names.jobs_queue))["QueueUrl"]
        await send(aws.sqs, queue_url=url, message=job, group_id=job.type, dedup_id=job.request_id)
        deadline = time.monotonic() + FIRST_SYNC_TIMEOUT_S
        while time.monotonic() < deadline:
            if any(c.poll() is not None for c in self._children):
                raise RuntimeError("a consumer exited during start-up; see its log above")
            resp = await aws.ddb.get_item(
                TableName=base.names.replies_table,
                Key={"request_id": {"S": job.request_id}},
                ConsistentRead=True,
            )
            if "Item" in resp:
                reply = reply_from_item(resp["Item"])
                if reply.error:
                    console.print(f"[red]first sync failed:[/] {reply.error.message}")
                else:
                    console.print(f"[green]first sync[/] {reply.result}")
                return
            await asyncio.sleep(0.2)
        console.print("[yellow]first sync has not answered yet; the stack runs anyway[/]")

    async def _smoke(self, info: StackInfo, console: Console) -> bool:
        """``sandbox-broker smoke`` against the stack just started; True when it conforms."""
        report = await run_smoke(
            SmokeOptions(url=info.gateway_url, token=info.track_token, admin_token=info.admin_token)
        )
        print_table(report, Console(stderr=True))
        if not report.ok:
            console.print(f"[red]smoke failed:[/] {verdict(report)}; stopping")
        return report.ok

    def _announce(self, info: StackInfo) -> None:
        out = Console()
        out.print()
        out.print(f"[bold green]Sandbox Broker is up[/] at [bold]{info.gateway_url}[/]")
        out.print(f"  track token: {info.track_token}")
        out.print(f"  admin token: {info.admin_token}")
        out.print(f"  API docs:    {info.gateway_url}/docs")
        out.print("  try it:")
        out.print(
            f"    curl -s -X POST {info.gateway_url}/v1/allocate "
            f"-H 'Authorization: Bearer {info.track_token}' -H 'X-Instruqt-Sandbox-ID: demo-1'",
            soft_wrap=True,
        )
        out.print(
            f"    curl -s {info.gateway_url}/v1/requests/<request_id> "
            f"-H 'Authorization: Bearer {info.track_token}' -H 'X-Instruqt-Sandbox-ID: demo-1'",
            soft_wrap=True,
        )
        out.print("  Ctrl-C drains and stops.")

    def _mark_ready(self, info: StackInfo) -> None:
        """The ready file, written last: whoever waits on it finds the profile in place too."""
        if self.options.ready_file is not None:  # atomic: readers never see half a file
            partial = self.options.ready_file.with_name(self.options.ready_file.name + ".part")
            partial.write_text(json.dumps(asdict(info)))
            partial.replace(self.options.ready_file)


def run_stack(options: StackOptions) -> int:
    async def main() -> int:
        stack = Stack(options)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stack.request_stop)
        return await stack.run()

    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(main())
    return 130


def _free_port() -> int:
    """A port free right now on loopback (the child binds it a moment later)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
