"""Render API Gateway mapping templates with airspeed against a fake $input, $util, $context.

API Gateway runs templates on Apache Velocity (Java): string methods are Java's, maps are
Java maps, booleans print ``true``. airspeed is Python, so this module teaches it the few
Java behaviours the templates rely on (``String.matches`` is a whole-string match,
``toLowerCase``, ``Map.containsKey``) and supplies the API Gateway objects:

- ``$input``: ``params()`` / ``params(name)``, ``body``, ``path(jsonpath)``, ``json(jsonpath)``
- ``$util``: ``escapeJavaScript`` (Commons Lang semantics), ``urlEncode`` (``URLEncoder``),
  ``urlDecode``, ``parseJson``, ``base64Encode``, ``base64Decode``
- ``$context``: ``requestId``, ``requestTimeEpoch``, ``authorizer``, ``responseOverride``

One API Gateway extension of Velocity's syntax: in ``#set($context.responseOverride.header
.Access-Control-Allow-Origin = ...)`` the hyphenated name is one header name (AWS CDK's and
the Serverless Framework's multi-origin CORS templates rely on it). Velocity proper, and
airspeed, would read the hyphens as minus signs, so such a ``#set`` is rewritten into a map
``put`` before compiling (``_api_gateway_syntax``).
"""

from __future__ import annotations

import base64
import functools
import json
import re
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

import airspeed

_JAVA_STRING = {
    # Java's String.matches() must match the whole string; airspeed's default is re.match
    # (a prefix match, and "$" also matches before a trailing newline): fullmatch is Java's.
    "matches": lambda self, pattern: re.fullmatch(pattern, self) is not None,
    "toLowerCase": lambda self: self.lower(),
    "trim": lambda self: self.strip(" \t\n\r\x0b\x0c\x00"),
    "isEmpty": lambda self: len(self) == 0,
    "equals": lambda self, other: self == other,
    "endsWith": lambda self, suffix: self.endswith(suffix),
    "substring": lambda self, start, end=None: self[start:end],
    "toUpperCase": lambda self: self.upper(),
    "contains": lambda self, part: part in self,
    # Java's compareTo returns a difference of chars; its sign is all the templates read.
    "compareTo": lambda self, other: (self > other) - (self < other),
    # Java's split takes a regex; the templates split on plain characters only.
    "split": lambda self, sep: self.split(sep),
}
_JAVA_MAP = {
    "containsKey": lambda self, key: key in self,
    "size": lambda self: len(self),
    # Java's Map.put returns the previous value; "" keeps a #set of it quiet.
    "put": lambda self, key, value: self.__setitem__(key, value) or "",
}
_JAVA_LIST = {
    "contains": lambda self, value: value in self,
    "size": lambda self: len(self),
}
airspeed.__additional_methods__[str].update(_JAVA_STRING)
airspeed.__additional_methods__[dict].update(_JAVA_MAP)
airspeed.__additional_methods__.setdefault(list, {}).update(_JAVA_LIST)


class JavaBoolean:
    """A JSON boolean as Velocity sees it: truthy or not, printed ``true`` / ``false``."""

    def __init__(self, value: bool) -> None:
        self.value = value

    def __bool__(self) -> bool:
        return self.value

    def __str__(self) -> str:
        return "true" if self.value else "false"

    def __eq__(self, other: object) -> bool:
        return bool(self) == bool(other)

    def __hash__(self) -> int:
        return hash(self.value)


def _java(value: Any) -> Any:
    if isinstance(value, bool):
        return JavaBoolean(value)
    if isinstance(value, dict):
        return {k: _java(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_java(v) for v in value]
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, JavaBoolean):
        return value.value
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


_MISSING = object()


def jsonpath(document: Any, path: str) -> Any:
    """The JSONPath subset templates use: ``$``, ``.name`` and ``['name']`` steps."""
    if not path.startswith("$"):
        raise ValueError(f"not a JSONPath: {path!r}")
    current = document
    for dotted, quoted in re.findall(r"\.([A-Za-z0-9_]+)|\['([^']*)'\]", path[1:]):
        key = dotted or quoted
        if not isinstance(current, dict) or key not in current:
            return _MISSING
        current = current[key]
    return current


class FakeInput:
    """``$input`` of one API Gateway request (method request) or integration response."""

    def __init__(
        self,
        *,
        headers: dict[str, str] | None = None,
        path: dict[str, str] | None = None,
        querystring: dict[str, str] | None = None,
        body: str = "",
    ) -> None:
        self.headers = dict(headers or {})
        self.path_params = dict(path or {})
        self.querystring = dict(querystring or {})
        self.body = body

    def params(self, name: str | None = None) -> Any:
        if name is None:
            return {
                "header": self.headers,
                "path": self.path_params,
                "querystring": self.querystring,
            }
        for source in (self.path_params, self.querystring, self.headers):
            if name in source:
                return source[name]
        return ""

    def _document(self) -> Any:
        return json.loads(self.body) if self.body.strip() else {}

    def path(self, expression: str) -> Any:
        found = jsonpath(self._document(), expression)
        return None if found is _MISSING else _java(found)

    def json(self, expression: str) -> str:
        found = jsonpath(self._document(), expression)
        return "null" if found is _MISSING else json.dumps(found)


def escape_javascript(value: str) -> str:
    """Apache Commons Lang 2 ``StringEscapeUtils.escapeJavaScript`` (what ``$util`` uses)."""
    out: list[str] = []
    simple = {"\b": "\\b", "\n": "\\n", "\t": "\\t", "\f": "\\f", "\r": "\\r"}
    for unit in _utf16_units(value):
        ch = chr(unit)
        if unit > 0x7F:
            out.append(f"\\u{unit:04X}")
        elif ch in simple:
            out.append(simple[ch])
        elif unit < 0x20:
            out.append(f"\\u{unit:04X}")
        elif ch in "'\"\\/":
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


def _utf16_units(value: str) -> list[int]:
    data = value.encode("utf-16-be", "surrogatepass")
    return [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]


class FakeUtil:
    """``$util`` of API Gateway REST mapping templates."""

    def escapeJavaScript(self, value: Any) -> str:
        return escape_javascript(str(value))

    def urlEncode(self, value: Any) -> str:
        # java.net.URLEncoder: space -> "+", "*-._" unreserved, everything else %XX (UTF-8).
        return urllib.parse.quote_plus(str(value), safe="*").replace("~", "%7E")

    def urlDecode(self, value: Any) -> str:
        return urllib.parse.unquote_plus(str(value))

    def parseJson(self, value: Any) -> Any:
        return _java(json.loads(str(value)))

    def base64Encode(self, value: Any) -> str:
        return base64.b64encode(str(value).encode()).decode()

    def base64Decode(self, value: Any) -> str:
        return base64.b64decode(str(value)).decode()


_HYPHENATED_OVERRIDE = re.compile(
    r"#set\(\s*\$context\.responseOverride\.header\.([A-Za-z0-9]+(?:-[A-Za-z0-9]+)+)"
    r"\s*=\s*([^)]*?)\s*\)"
)


def _api_gateway_syntax(template: str) -> str:
    """``#set($context.responseOverride.header.X-Y = v)`` as airspeed can read it."""
    return _HYPHENATED_OVERRIDE.sub(
        r'#set($apigwOverride = $context.responseOverride.header.put("\1", \2))', template
    )


@functools.lru_cache(maxsize=64)
def _compiled(template: str) -> airspeed.Template:
    compiled = airspeed.Template(_api_gateway_syntax(template))
    compiled.ensure_compiled()
    return compiled


@dataclass
class Rendered:
    body: str
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)


def render(
    template: str,
    *,
    input: FakeInput,
    request_id: str = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
    request_time_epoch_ms: int = 1_795_435_200_123,
    authorizer: dict[str, str] | None = None,
) -> Rendered:
    """Render one mapping template as API Gateway would; report any response override."""
    context: dict[str, Any] = {
        "requestId": request_id,
        "requestTimeEpoch": request_time_epoch_ms,
        "authorizer": dict(authorizer or {}),
        "responseOverride": {"status": None, "header": {}},
        "stage": "live",
    }
    body = _compiled(template).merge({"input": input, "util": FakeUtil(), "context": context})
    override = context["responseOverride"]
    status = override["status"]
    return Rendered(
        body=body,
        status=int(status) if status is not None else None,
        headers={k: str(v) for k, v in override["header"].items()},
    )


def send_message_params(form_body: str) -> dict[str, str]:
    """A form-encoded SQS query request as a dict; a repeated or blank-named key is an error."""
    pairs = urllib.parse.parse_qsl(form_body, keep_blank_values=True, strict_parsing=True)
    params: dict[str, str] = {}
    for key, value in pairs:
        if key in params:
            raise ValueError(f"{key} sent twice")
        params[key] = value
    return params


def message_attributes(params: dict[str, str]) -> dict[str, tuple[str, str]]:
    """``MessageAttribute.N.*`` query parameters as name -> (data type, string value)."""
    attrs: dict[str, tuple[str, str]] = {}
    n = 1
    while f"MessageAttribute.{n}.Name" in params:
        prefix = f"MessageAttribute.{n}"
        attrs[params[f"{prefix}.Name"]] = (
            params[f"{prefix}.Value.DataType"],
            params[f"{prefix}.Value.StringValue"],
        )
        n += 1
    return attrs


def plain(value: Any) -> Any:
    """Undo :func:`_java` (for comparing what a template read)."""
    return _plain(value)
