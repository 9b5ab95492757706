"""The read Lambda and the local gateway give the same answers: one implementation, two hosts.

(Over 400 lines: one table of cases per route family, both hosts compared in one place.)

Each case goes to the local gateway (over https, as API Gateway is reached) and, as an API
Gateway REST proxy event, to the Lambda handler in process; both read the same tables on
the real moto server, and the Lambda its tokens from Secrets Manager there. Status,
headers and body must be equal, byte for byte.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from consumers.stores.tenants import TenantStore
from producers.gateway import create_app
from schemas.errors import ErrorCode
from schemas.pool import SandboxStatus
from schemas.settings import CommonSettings
from schemas.tenants import tenant_signing_key, verify_signed
from tests.integration.gateway.helpers import (
    ADMIN,
    TRACK,
    GatewayEnv,
    RecordingClient,
    gateway_settings,
    make_sandbox,
)
from tests.integration.read_lambda.conftest import Invoke, Lambdas, ProxyEvent, Secrets

pytestmark = pytest.mark.integration

OWNER = "owner-1"
OTHER = "other-1"
ORIGIN = "https://lab.example"


def bearer(token: str) -> tuple[str, str]:
    return ("Authorization", f"Bearer {token}")


def as_track(track_id: str = OWNER, *more: tuple[str, str]) -> list[tuple[str, str]]:
    return [bearer(TRACK), ("X-Instruqt-Sandbox-ID", track_id), *more]


def as_admin(*more: tuple[str, str]) -> list[tuple[str, str]]:
    return [bearer(ADMIN), *more]


@dataclass(frozen=True)
class Case:
    name: str
    path: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    query: list[tuple[str, str]] = field(default_factory=list)
    method: str = "GET"
    body: str | None = None
    status: int = 200


#: Sandboxes in the pool: three allocated (one to OWNER), seven available.
POOL = [
    make_sandbox(1, SandboxStatus.ALLOCATED, track=OWNER),
    make_sandbox(2, SandboxStatus.ALLOCATED, track=OTHER),
    make_sandbox(3, SandboxStatus.ALLOCATED, track="third-1"),
    *(make_sandbox(n) for n in range(4, 11)),
]
OWNED = "/v1/sandboxes/sbx-00001"

CASES = [
    # auth
    Case("no token, track route", OWNED, [("X-Instruqt-Sandbox-ID", OWNER)], status=401),
    Case("no token, admin route", "/v1/admin/stats", status=401),
    Case("wrong token", "/v1/admin/stats", [bearer("not-a-token-" + "x" * 20)], status=401),
    Case("basic scheme", "/v1/admin/stats", [("Authorization", f"Basic {ADMIN}")], status=401),
    Case("token twice", "/v1/admin/stats", [bearer(ADMIN), bearer(ADMIN)], status=401),
    Case("track token on an admin route", "/v1/admin/stats", as_track(), status=403),
    Case("admin token on a track route", OWNED, as_admin(), status=403),
    Case("track token, no track header", OWNED, [bearer(TRACK)], status=400),
    # owner vs other track
    Case("owner reads its sandbox", OWNED, as_track()),
    Case("owner by the legacy header", OWNED, [bearer(TRACK), ("X-Track-ID", OWNER)]),
    Case("another track", OWNED, as_track(OTHER), status=404),
    Case(
        "preferred header wins over legacy",
        OWNED,
        as_track(OTHER, ("X-Track-ID", OWNER)),
        status=404,
    ),
    Case("an available sandbox is no track's", "/v1/sandboxes/sbx-00004", as_track(), status=404),
    Case("unknown id", "/v1/sandboxes/sbx-99999", as_track(), status=404),
    # stats and pages
    Case("stats", "/v1/admin/stats", as_admin()),
    Case("first page", "/v1/admin/sandboxes", as_admin(), [("limit", "3")]),
    Case("status filter", "/v1/admin/sandboxes", as_admin(), [("status", "allocated")]),
    Case("default limit", "/v1/admin/sandboxes", as_admin()),
    Case("limit 0", "/v1/admin/sandboxes", as_admin(), [("limit", "0")], status=400),
    Case("limit 101", "/v1/admin/sandboxes", as_admin(), [("limit", "101")], status=400),
    Case(
        "limit twice",
        "/v1/admin/sandboxes",
        as_admin(),
        [("limit", "1"), ("limit", "2")],
        status=400,
    ),
    Case("unknown status", "/v1/admin/sandboxes", as_admin(), [("status", "gone")], status=400),
    Case("garbled cursor", "/v1/admin/sandboxes", as_admin(), [("cursor", "x.y")], status=400),
    # hostile input
    Case(
        "5000-digit limit", "/v1/admin/sandboxes", as_admin(), [("limit", "9" * 5000)], status=400
    ),
    Case("negative limit", "/v1/admin/sandboxes", as_admin(), [("limit", "-1")], status=400),
    Case("float limit", "/v1/admin/sandboxes", as_admin(), [("limit", "1e3")], status=400),
    Case("unicode limit", "/v1/admin/sandboxes", as_admin(), [("limit", "٣")], status=400),
    Case(
        "oversized cursor",
        "/v1/admin/sandboxes",
        as_admin(),
        [("cursor", "A" * 60_000)],
        status=400,
    ),
    Case("unicode cursor", "/v1/admin/sandboxes", as_admin(), [("cursor", "é.ü")], status=400),
    Case("nested query keys are ignored", "/v1/admin/stats", as_admin(), [("a[b][c]", "1")]),
    Case("unicode sandbox id", "/v1/sandboxes/sbx-%C3%A9", as_track(), status=400),
    Case("a key-shaped sandbox id", "/v1/sandboxes/SBX%23sbx-00001", as_track(), status=400),
    Case("129-char sandbox id", "/v1/sandboxes/" + "s" * 129, as_track(), status=400),
    Case("spaces in the sandbox id", "/v1/sandboxes/a%20b", as_track(), status=400),
    Case(
        "unicode track header", OWNED, [bearer(TRACK), ("X-Instruqt-Sandbox-ID", "ü")], status=400
    ),
    Case("oversized track header", OWNED, as_track("t" * 129), status=400),
    Case(
        "a deeply nested body on a GET is not read",
        "/v1/admin/stats",
        as_admin(),
        body="[" * 50_000 + "]" * 50_000,
    ),
    Case("a wrong method", "/v1/admin/stats", as_admin(), method="POST", status=405),
    # CORS on the Lambda's own answers
    Case("allowed origin", OWNED, as_track(OWNER, ("Origin", ORIGIN))),
    Case("allowed origin on a 401", "/v1/admin/stats", [("Origin", ORIGIN)], status=401),
    Case("other origin", OWNED, as_track(OWNER, ("Origin", "https://evil.example"))),
]


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def from_local(response: httpx.Response) -> Answer:
    headers: dict[str, str] = {}
    for name, value in response.headers.multi_items():
        key = name.lower()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return Answer(response.status_code, headers, response.content)


def from_lambda(answer: dict[str, Any]) -> Answer:
    headers = {k.lower(): v for k, v in answer["headers"].items()}
    for name, values in answer["multiValueHeaders"].items():
        headers[name.lower()] = ", ".join(values)
    body = answer["body"]
    raw = base64.b64decode(body) if answer["isBase64Encoded"] else body.encode()
    return Answer(answer["statusCode"], headers, raw)


@pytest.fixture
async def pool(local: GatewayEnv) -> None:
    for sandbox in POOL:
        await local.put_sandbox(sandbox)


async def both(
    local: GatewayEnv, invoke: Invoke, proxy_event: ProxyEvent, case: Case
) -> tuple[Answer, Answer]:
    request = local.client.build_request(
        case.method,
        case.path,
        headers=[(k.encode(), v.encode()) for k, v in case.headers],
        params=case.query,
        content=case.body.encode() if case.body is not None else None,
    )
    here = from_local(await local.client.send(request))
    there = from_lambda(
        await invoke(
            proxy_event(
                case.method, case.path, headers=case.headers, query=case.query, body=case.body
            )
        )
    )
    return here, there


def assert_same(here: Answer, there: Answer) -> None:
    assert there.status == here.status
    assert there.body == here.body
    assert there.headers == here.headers


async def answer_alike(
    local: GatewayEnv, invoke: Invoke, proxy_event: ProxyEvent, case: Case
) -> Answer:
    """One case of a table: the status it expects, and the same answer from both hosts."""
    here, there = await both(local, invoke, proxy_event, case)
    assert here.status == case.status, here.body
    assert_same(here, there)
    return there


def each_case(table: list[Case]) -> pytest.MarkDecorator:
    return pytest.mark.parametrize("case", table, ids=[c.name for c in table])


@pytest.mark.usefixtures("pool")
@each_case(CASES)
async def test_the_lambda_answers_as_the_local_gateway(
    local: GatewayEnv, invoke: Invoke, proxy_event: ProxyEvent, case: Case
) -> None:
    there = await answer_alike(local, invoke, proxy_event, case)
    if case.status >= 400:
        assert set(there.json()) == {"error"}
        assert set(there.json()["error"]) == {"code", "message"}
        assert there.status < 500


@pytest.mark.usefixtures("pool")
async def test_a_real_cursor_pages_the_same_on_both_hosts_and_crosses_between_them(
    local: GatewayEnv, invoke: Invoke, proxy_event: ProxyEvent
) -> None:
    seen: list[str] = []
    cursor: str | None = None
    hosts = 0
    while True:
        query = [("limit", "3")] + ([("cursor", cursor)] if cursor else [])
        case = Case("page", "/v1/admin/sandboxes", as_admin(), query)
        here, there = await both(local, invoke, proxy_event, case)
        assert_same(here, there)
        page = (here, there)[hosts % 2].json()  # follow the cursor of either host in turn
        hosts += 1
        seen += [item["sandbox_id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(s.sandbox_id for s in POOL)
    assert len(seen) == len(set(seen))


@pytest.mark.usefixtures("pool")
async def test_a_forged_cursor_is_400_on_both_hosts(
    local: GatewayEnv, invoke: Invoke, proxy_event: ProxyEvent
) -> None:
    first, _ = await both(
        local, invoke, proxy_event, Case("p", "/v1/admin/sandboxes", as_admin(), [("limit", "3")])
    )
    payload, _, signature = first.json()["next_cursor"].partition(".")
    decoded = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    decoded["p"] = 0
    decoded["k"] = {"PK": {"S": "SBX#sbx-00009"}, "SK": {"S": "META"}}
    forged_payload = base64.urlsafe_b64encode(json.dumps(decoded).encode()).rstrip(b"=").decode()
    other_filter = first.json()["next_cursor"]
    for query in (
        [("cursor", f"{forged_payload}.{signature}")],  # a payload the signature is not for
        [("cursor", other_filter), ("status", "available")],  # another filter's cursor
        [("cursor", f"{payload}.{'A' * 22}")],  # a signature made up
    ):
        here, there = await both(
            local, invoke, proxy_event, Case("forged", "/v1/admin/sandboxes", as_admin(), query)
        )
        assert here.status == 400
        assert here.json()["error"]["code"] == ErrorCode.INVALID_REQUEST
        assert "cursor" in here.json()["error"]["message"]
        assert_same(here, there)


HISTORY = "/v1/admin/sandboxes/sbx-00001/history"
HISTORY_CASES = [
    Case("history", HISTORY, as_admin()),
    Case("history page", HISTORY, as_admin(), [("limit", "2")]),
    Case("history of an unknown sandbox", "/v1/admin/sandboxes/sbx-99999/history", as_admin()),
    Case("history, track token", HISTORY, as_track(), status=403),
    Case("history, no token", HISTORY, status=401),
    Case("history, status", HISTORY, as_admin(), [("status", "allocated")], status=400),
    Case("history, garbled cursor", HISTORY, as_admin(), [("cursor", "x.y")], status=400),
    Case("history, bad id", "/v1/admin/sandboxes/a%20b/history", as_admin(), status=400),
    Case("history, a wrong method", HISTORY, as_admin(), method="POST", status=405),
]


@pytest.fixture
async def leases(local: GatewayEnv) -> None:
    from consumers.stores.history import CloseLease, HistoryStore, OpenLease
    from schemas.events import LeaseRecord

    history = HistoryStore(local.ddb, table=local.settings.names.pool_table)
    for n in range(3):
        at = 1_790_000_000.0 + n * 3600
        await history.apply(
            OpenLease(LeaseRecord(sandbox_id="sbx-00001", track_id=f"t{n}", allocated_at=at))
        )
        await history.apply(CloseLease("sbx-00001", at, at + 60, "released"))


@pytest.mark.usefixtures("leases")
@each_case(HISTORY_CASES)
async def test_the_history_is_the_same_on_both_hosts(
    local: GatewayEnv, invoke: Invoke, proxy_event: ProxyEvent, case: Case
) -> None:
    await answer_alike(local, invoke, proxy_event, case)


@pytest.mark.usefixtures("leases")
async def test_a_history_cursor_crosses_between_the_hosts(
    local: GatewayEnv, invoke: Invoke, proxy_event: ProxyEvent
) -> None:
    first, _ = await both(
        local, invoke, proxy_event, Case("p", HISTORY, as_admin(), [("limit", "2")])
    )
    cursor = first.json()["next_cursor"]
    here, there = await both(
        local, invoke, proxy_event, Case("p2", HISTORY, as_admin(), [("cursor", cursor)])
    )
    assert_same(here, there)
    assert [i["track_id"] for i in there.json()["items"]] == ["t0"]


# ---------------------------------------------------------------------------------------
# v2: POST /v1/admin/tenants/{name}/track-tokens, minted by the read Lambda on AWS
# ---------------------------------------------------------------------------------------

SIGNING = "parity-signing-secret-" + "s" * 16
MINT = "/v1/admin/tenants/{name}/track-tokens"


@dataclass(frozen=True)
class MintHosts:
    local: GatewayEnv
    invoke: Invoke


@pytest.fixture
async def mint_hosts(
    provisioned: CommonSettings, sqs: Any, ddb: Any, lambdas: Lambdas, token_secrets: Secrets
) -> AsyncIterator[MintHosts]:
    """Both hosts with the same signing secret (the Lambda reads it from Secrets Manager)
    and one tenant, acme."""
    secrets = token_secrets.client
    arn = secrets.create_secret(Name=f"s{uuid.uuid4().hex[:10]}/signing", SecretString=SIGNING)[
        "ARN"
    ]
    try:
        await TenantStore(ddb, table=provisioned.names.tenants_table).add("acme")
        runtime = await lambdas.open(token_signing_secret_arn=arn)
        settings = gateway_settings(
            provisioned, token_signing_secret=SIGNING, rate_limit_burst=10_000
        )
        recording = RecordingClient(ddb)
        app = create_app(settings, sqs=sqs, ddb=recording)  # type: ignore[arg-type]
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://gw.test") as client:

            async def invoke(event: dict[str, Any]) -> dict[str, Any]:
                return await lambdas.invoke(runtime, event)

            yield MintHosts(GatewayEnv(settings, client, sqs, recording), invoke)
    finally:
        secrets.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)


JSON = ("Content-Type", "application/json")
LAB = '{"track_id": "lab-1"}'


def mint_case(
    name: str,
    *,
    tenant: str = "acme",
    body: str | None = LAB,
    headers: list[tuple[str, str]] | None = None,
    method: str = "POST",
    status: int = 400,
) -> Case:
    """A request to mint acme's track token (by default), as the admin, with a JSON body."""
    return Case(
        name,
        MINT.format(name=tenant),
        as_admin(JSON) if headers is None else headers,
        method=method,
        body=body,
        status=status,
    )


MINT_REFUSALS = [
    mint_case("unknown tenant", tenant="nobody", status=404),
    mint_case("malformed tenant name", tenant="Acme!"),
    mint_case("bad track id", body='{"track_id": "a b"}'),
    mint_case("ttl out of range", body='{"track_id": "lab-1", "ttl_s": 5}'),
    mint_case("unknown field", body='{"track_id": "lab-1", "tenant": "other"}'),
    mint_case("not json", body="[" * 16_000),
    mint_case("no body", body=None, headers=as_admin()),
    mint_case("track token", headers=as_track(OWNER, JSON), status=403),
    mint_case("no token", headers=[JSON], status=401),
    mint_case("a GET", body=None, headers=as_admin(), method="GET", status=405),
]


@each_case(MINT_REFUSALS)
async def test_mint_refusals_are_the_same_on_both_hosts(
    mint_hosts: MintHosts, proxy_event: ProxyEvent, case: Case
) -> None:
    there = await answer_alike(mint_hosts.local, mint_hosts.invoke, proxy_event, case)
    assert set(there.json()["error"]) == {"code", "message"}


async def test_the_lambda_mints_a_token_the_local_gateway_accepts(
    mint_hosts: MintHosts, proxy_event: ProxyEvent
) -> None:
    case = mint_case("mint", body='{"track_id": "lab-1", "ttl_s": 600}', status=201)
    before = int(time.time())
    here, there = await both(mint_hosts.local, mint_hosts.invoke, proxy_event, case)
    assert (here.status, there.status) == (201, 201)
    assert there.headers == here.headers  # same length: the tokens differ in time only
    key = tenant_signing_key(SIGNING, "acme", 1)
    for answer in (here, there):
        minted = answer.json()
        assert {k: minted[k] for k in ("tenant", "track_id")} == {
            "tenant": "acme",
            "track_id": "lab-1",
        }
        claims = verify_signed(minted["token"], key=key)
        assert (claims.tenant, claims.track_id, claims.exp) == (
            "acme",
            "lab-1",
            minted["expires_at"],
        )
        assert before + 600 <= claims.exp <= int(time.time()) + 600
    # A token the Lambda minted opens the track routes of the local gateway.
    token = there.json()["token"]
    read = await mint_hosts.local.client.get(
        "/v1/sandboxes/sbx-none",
        headers={"Authorization": f"Bearer {token}", "X-Instruqt-Sandbox-ID": "lab-1"},
    )
    assert read.status_code == 404, read.text  # authenticated as acme's lab-1
