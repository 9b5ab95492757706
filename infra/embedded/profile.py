"""The local profile ``up`` leaves, so that a second shell reaches the running stack.

``up`` writes ``<venv>/sandbox-broker-up.json`` (the virtualenv it runs from: in this
repository ``.venv/``, so each checkout has its own; ``SANDBOX_BROKER_PROFILE`` names
another file, ``none`` none) once the stack is ready, and removes it when it stops.
``status``, ``dlq``, ``pool``, ``jobs``, ``tenants``, ``track``,
``smoke`` and ``loadgen`` read it before their settings: each value it holds becomes a
default of the environment variable of the same name, so an exported ``BROKER_*`` /
``AWS_*`` variable still wins, and ``--profile FILE`` (or ``SANDBOX_BROKER_PROFILE``)
names another file (``--profile none``: no profile). A profile whose ``up`` is gone (killed
without its clean-up) is stale: it is ignored with a note, and the next ``up`` replaces it.

What it holds: the AWS endpoint, region and resource prefix, the gateway URL and the
tokens ``up`` generated (the file is private to its owner, 0600), and AWS credentials
only where they are the embedded moto's or LocalStack's dummy ones — never real ones.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from rich.console import Console

if TYPE_CHECKING:
    from schemas.settings import CommonSettings

#: The variable that names the profile file (as ``--profile`` does).
PROFILE_ENV: Final = "SANDBOX_BROKER_PROFILE"
#: ``--profile none``: read no profile.
NO_PROFILE: Final = "none"
#: The commands that talk to a running stack and so read the profile.
PROFILE_COMMANDS: Final = frozenset(
    {"status", "dlq", "pool", "jobs", "tenants", "track", "smoke", "loadgen"}
)


def default_path() -> Path:
    """``sandbox-broker-up.json`` in the virtualenv this CLI runs from."""
    return Path(sys.prefix) / "sandbox-broker-up.json"


def shown(path: Path) -> str:
    """``path`` relative to the working directory where it is below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


@dataclass(frozen=True)
class Profile:
    pid: int
    env: dict[str, str]

    @property
    def alive(self) -> bool:
        """The ``up`` that wrote it still runs (a zombie or another program does not count)."""
        try:
            stat = Path(f"/proc/{self.pid}/stat").read_text()
            cmdline = Path(f"/proc/{self.pid}/cmdline").read_bytes()
        except OSError:
            return _alive_without_proc(self.pid)
        state = stat.rsplit(")", 1)[-1].split()[0]
        return state != "Z" and b"up" in cmdline.split(b"\0")


def _alive_without_proc(pid: int) -> bool:
    """Where there is no /proc (macOS): the pid exists."""
    if Path("/proc/self").exists():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read(path: Path) -> Profile | None:
    try:
        data = json.loads(path.read_text())
        return Profile(pid=int(data["pid"]), env={str(k): str(v) for k, v in data["env"].items()})
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write(path: Path, env: dict[str, str]) -> Profile | None:
    """Write this process's profile atomically (0600); return the live one it replaced."""
    before = read(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump({"pid": os.getpid(), "env": env}, out)
    partial.replace(path)
    return before if before is not None and before.pid != os.getpid() and before.alive else None


def remove(path: Path) -> None:
    """Remove the profile if this process wrote it (a later ``up``'s is left alone)."""
    found = read(path)
    if found is not None and found.pid == os.getpid():
        path.unlink(missing_ok=True)


def chosen(option: str | None) -> Path | None:
    """The file ``--profile`` / ``SANDBOX_BROKER_PROFILE`` names, the default, or None."""
    value = option if option is not None else os.environ.get(PROFILE_ENV)
    if value is None:
        return default_path()
    return None if value.strip().lower() == NO_PROFILE else Path(value)


def apply(path: Path | None, *, explicit: bool) -> str | None:
    """Default the environment from the profile at ``path``; a note to show, if any."""
    if path is None:
        return None
    found = read(path)
    if found is None:
        return f"no profile at {shown(path)}" if explicit else None
    if not found.alive:
        return f"ignoring {shown(path)}: the `up` that wrote it (pid {found.pid}) is not running"
    for name, value in found.env.items():
        os.environ.setdefault(name, value)
    return None


def leave(
    path: Path | None, gateway: dict[str, str], base: CommonSettings, *, dummy_credentials: bool
) -> None:
    """``up``'s part: write the profile of the stack now running and say where it is.

    ``gateway`` holds the gateway's URL and tokens; AWS credentials are copied only when
    ``dummy_credentials`` (the embedded moto's or LocalStack's): a real key stays in the
    environment it came from. ``path`` None (``SANDBOX_BROKER_PROFILE=none``): no profile.
    """
    out = Console(stderr=True)
    if path is None:
        out.print("  profile:     none (SANDBOX_BROKER_PROFILE=none)")
        return
    env = dict(gateway)
    env["BROKER_NAME_PREFIX"] = base.name_prefix
    env["AWS_DEFAULT_REGION"] = base.aws_region
    if base.aws_endpoint_url:
        env["BROKER_AWS_ENDPOINT_URL"] = base.aws_endpoint_url
    if dummy_credentials:
        for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            if key in os.environ:
                env[key] = os.environ[key]
    replaced = write(path, env)
    if replaced is not None:
        out.print(f"[yellow]note:[/] replacing the profile of the `up` with pid {replaced.pid}")
    out.print(
        f"  profile:     {shown(path)}: status, dlq, pool, jobs, tenants, smoke in another "
        "shell reach this stack with no exports (BROKER_*/AWS_* variables override it; "
        "--profile FILE or none); removed on stop"
    )
