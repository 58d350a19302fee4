"""What stripe-python's own parameter types allow for each Stripe endpoint, and a judge of
requests against them. Shared by the strict Stripe peer (devtools/stripe_peer/) and the
contract test (tests/contract/).

Everything comes from the installed SDK, so bumping `stripe` in the lock changes the verdicts:
- the endpoints and the params class of each: the service classes (`stripe/**/_*_service.py`)
  name the params TypedDict in their method annotations and the path in their `_request(...)`
  calls, read with `ast`;
- what a params class allows: `typing.get_type_hints` on the TypedDicts (names, nested
  TypedDicts, `Literal` enums, `NotRequired`).

The SDK writes many enums as `Literal[...] | str` so that values Stripe adds after a release do
not break old code. At the version the SDK was generated for, the `Literal` values are the ones
Stripe documents, so a value outside them is reported as an enum problem, not accepted as `str`.
`Literal[''] | str` (an empty string unsets a field) stays a free string.
"""

from __future__ import annotations

import ast
import difflib
import importlib
import re
import sys
import types
import typing
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import stripe
import typing_extensions as te
from stripe import _request_options

SDK_VERSION = stripe.VERSION
API_VERSION = stripe.api_version
# Keys of RequestOptions (api_key, idempotency_key, ...): sent as headers, never as parameters.
_OPTION_KEYS = frozenset(_request_options.RequestOptions.__annotations__)
_INTEGER = re.compile(r"-?\d+")
_NUMBER = re.compile(r"-?\d+(\.\d+)?")
_KEY = re.compile(r"([^\[\]]+)((?:\[[^\[\]]*\])*)")
_KEY_PART = re.compile(r"\[([^\[\]]*)\]")


@dataclass(frozen=True)
class Endpoint:
    method: str  # "POST"
    path: str  # "/v1/payment_intents/{intent}/confirm"
    operation: str  # "PaymentIntentService.confirm"
    params_module: str  # "" when the operation takes no parameters
    params_name: str

    @property
    def name(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def params_class(self) -> type | None:
        if not self.params_name:
            return None
        return getattr(importlib.import_module(self.params_module), self.params_name)


@dataclass(frozen=True)
class Problem:
    """One thing a request sends that the SDK's types do not allow."""

    endpoint: str  # "POST /v1/payment_intents" (the template, so problems group by endpoint)
    param: str  # "payment_method_types", "payment_method_options[card][moto]"; "" for the request
    kind: str  # unknown | missing | type | enum | endpoint | version | unsupported
    sent: str = ""
    allowed: str = ""
    expected: str = ""  # for type problems: integer, boolean, number, string, hash, list
    params_class: str = ""

    def __str__(self) -> str:
        where = f"{self.endpoint}: " + (f"`{self.param}` " if self.param else "")
        source = f"stripe-python {SDK_VERSION} ({API_VERSION})"
        in_class = f"{self.params_class} in {source}" if self.params_class else source
        if self.kind == "unknown":
            return f"{where}is not a parameter of {in_class}; sent {self.sent}. {self.allowed}"
        if self.kind == "missing":
            return f"{where}is required by {in_class} but was not sent"
        if self.kind == "endpoint":
            return f"{where}no service in {source} calls this endpoint"
        if self.kind == "version":
            return f"{where}sent Stripe-Version {self.sent}, but {source} describes {self.allowed}"
        return f"{where}sent {self.sent}; {in_class} allows {self.allowed}"


class FormConflict(ValueError):
    """The same key was sent both as a value and as a hash (`a=1&a[b]=2`)."""


# --- the endpoints ----------------------------------------------------------------------------


def _string_of(node: ast.expr) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    # "/v1/payment_intents/{intent}".format(intent=sanitize_id(intent))
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "format"
    ):
        return _string_of(node.func.value)
    return None


def _operations(path: Path, module: str) -> Iterable[Endpoint]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imported: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                imported[alias.asname or alias.name] = node.module
    for cls in tree.body:
        if not isinstance(cls, ast.ClassDef):
            continue
        for func in cls.body:
            if not isinstance(func, ast.FunctionDef):  # the async twins name the same endpoint
                continue
            params_name = ""
            for arg in func.args.args + func.args.kwonlyargs:
                if arg.arg == "params" and arg.annotation is not None:
                    found = re.search(r"\b(\w+Params)\b", ast.unparse(arg.annotation))
                    params_name = found.group(1) if found else ""
            for call in ast.walk(func):
                if not (
                    isinstance(call, ast.Call)
                    and isinstance(call.func, ast.Attribute)
                    and call.func.attr == "_request"
                    and len(call.args) >= 2
                ):
                    continue
                method, url = _string_of(call.args[0]), _string_of(call.args[1])
                if not method or not url:
                    continue
                yield Endpoint(
                    method=method.upper(),
                    path=url,
                    operation=f"{cls.name}.{func.name}",
                    params_module=imported.get(params_name, "") if params_name else "",
                    params_name=params_name if params_name in imported else "",
                )


@cache
def endpoints() -> dict[tuple[str, str], Endpoint]:
    """Every (method, path template) a service class of the installed SDK calls."""
    root = Path(stripe.__file__).resolve().parent
    found: dict[tuple[str, str], Endpoint] = {}
    for path in sorted(root.rglob("_*_service.py")):
        module = ".".join(path.relative_to(root.parent).with_suffix("").parts)
        for endpoint in _operations(path, module):
            found.setdefault((endpoint.method, endpoint.path), endpoint)
    return found


@cache
def _templates() -> dict[tuple[str, int], list[tuple[tuple[str, ...], Endpoint]]]:
    index: dict[tuple[str, int], list[tuple[tuple[str, ...], Endpoint]]] = {}
    for (method, template), endpoint in endpoints().items():
        parts = tuple(template.strip("/").split("/"))
        index.setdefault((method, len(parts)), []).append((parts, endpoint))
    return index


def endpoint_for(method: str, path: str) -> Endpoint | None:
    """The endpoint a concrete request path belongs to; a literal segment beats a placeholder
    (`/v1/payment_intents/search` is not the retrieve of an intent called "search")."""
    parts = path.split("?", 1)[0].strip("/").split("/")
    best: tuple[int, Endpoint] | None = None
    for template, endpoint in _templates().get((method.upper(), len(parts)), []):
        literal = 0
        for want, got in zip(template, parts, strict=True):
            if want.startswith("{") and want.endswith("}"):
                if not got:
                    break
            elif want != got:
                break
            else:
                literal += 1
        else:
            if best is None or literal > best[0]:
                best = (literal, endpoint)
    return best[1] if best else None


# --- the encoding -----------------------------------------------------------------------------


def form_decode(text: str) -> dict[str, Any]:
    """Stripe's form encoding (`a[b][0]=c`) as a tree of dicts with string leaves.

    urllib.parse does the decoding; a key's bracketed parts become the path in the tree. Lists
    stay dicts keyed "0", "1", ... as sent (see `as_lists`).
    """
    tree: dict[str, Any] = {}
    for key, value in urllib.parse.parse_qsl(text, keep_blank_values=True):
        match = _KEY.fullmatch(key)
        parts = [match.group(1), *_KEY_PART.findall(match.group(2))] if match else [key]
        node = tree
        for depth, part in enumerate(parts):
            if part == "":  # `a[]=x`: the next item of a list
                part = str(len(node))
            last = depth == len(parts) - 1
            if last:
                if isinstance(node.get(part), dict):
                    raise FormConflict(key)
                node[part] = value
            else:
                child = node.setdefault(part, {})
                if not isinstance(child, dict):
                    raise FormConflict(key)
                node = child
    return tree


def _is_list_node(value: Any) -> bool:
    return isinstance(value, dict) and bool(value) and all(k.isdigit() for k in value)


def as_lists(tree: Any) -> Any:
    """The decoded tree with every dict keyed "0", "1", ... turned into a list, in index order."""
    if isinstance(tree, dict):
        if _is_list_node(tree):
            return [as_lists(tree[k]) for k in sorted(tree, key=int)]
        return {k: as_lists(v) for k, v in tree.items()}
    return tree


def _shown(value: Any) -> str:
    return repr(as_lists(value))


def param_path(parent: str, key: str) -> str:
    return f"{parent}[{key}]" if parent else key


# --- the types --------------------------------------------------------------------------------


@cache
def _hints(typed_dict: type) -> tuple[dict[str, Any], frozenset[str]]:
    """A TypedDict's parameters (without the RequestOptions keys) and which are required."""
    namespace = {
        **vars(_request_options),
        "StripeContext": stripe.StripeContext,
        **vars(sys.modules[typed_dict.__module__]),
    }
    hints = te.get_type_hints(typed_dict, globalns=namespace, include_extras=True)
    params, required = {}, set()
    total = getattr(typed_dict, "__total__", True)
    for name, hint in hints.items():
        if name in _OPTION_KEYS:
            continue
        origin = te.get_origin(hint)
        if origin is te.NotRequired:
            hint = te.get_args(hint)[0]
        elif origin is te.Required:
            hint = te.get_args(hint)[0]
            required.add(name)
        elif total:
            required.add(name)
        params[name] = hint
    return params, frozenset(required)


def _literal_values(tp: Any) -> tuple[str, ...]:
    return tuple(str(v).lower() if isinstance(v, bool) else str(v) for v in te.get_args(tp))


def _union_args(tp: Any) -> tuple[Any, ...] | None:
    if te.get_origin(tp) in (typing.Union, types.UnionType):
        return te.get_args(tp)
    return None


def _open_enum_alternatives(args: tuple[Any, ...]) -> tuple[Any, ...]:
    """`Literal['a', 'b'] | str` judged as the Literal (see the module docstring)."""
    named = [v for a in args if te.get_origin(a) is typing.Literal for v in _literal_values(a) if v]
    if named and str in args:
        return tuple(a for a in args if a is not str)
    return args


def describe(tp: Any) -> str:
    """What a type allows, in words, for messages."""
    args = _union_args(tp)
    if args is not None:
        args = _open_enum_alternatives(args)
        literals = [
            v for a in args if te.get_origin(a) is typing.Literal for v in _literal_values(a)
        ]
        others = [describe(a) for a in args if te.get_origin(a) is not typing.Literal]
        parts = [f"one of {', '.join(repr(v) for v in literals)}"] if literals else []
        return " or ".join(parts + [o for o in others if o != "nothing"])
    origin = te.get_origin(tp)
    if origin is typing.Literal:
        return f"one of {', '.join(repr(v) for v in _literal_values(tp))}"
    if origin is list:
        return f"a list of ({describe(te.get_args(tp)[0])})"
    if origin is dict:
        return f"a hash of ({describe(te.get_args(tp)[1])})"
    if te.is_typeddict(tp):
        return f"a hash with the keys of {tp.__name__}"
    if _is_untyped_object(tp):
        return "a hash"
    return {
        str: "a string",
        int: "an integer",
        bool: "a boolean",
        float: "a number",
        Decimal: "a decimal number",
        type(None): "nothing",
        typing.Any: "anything",
    }.get(tp, repr(tp))


def _is_untyped_object(tp: Any) -> bool:
    return getattr(te.get_origin(tp) or tp, "__name__", "") == "UntypedStripeObject"


def _expected(tp: Any) -> str:
    return {str: "string", int: "integer", bool: "boolean", float: "number", Decimal: "number"}.get(
        tp, ""
    )


class _Judge:
    def __init__(self, endpoint: str, params_class: str):
        self.endpoint = endpoint
        self.params_class = params_class

    def problem(self, param: str, kind: str, **fields: str) -> Problem:
        return Problem(
            endpoint=self.endpoint,
            param=param,
            kind=kind,
            params_class=self.params_class,
            **fields,
        )

    def typed_dict(self, td: type, node: dict[str, Any], path: str) -> list[Problem]:
        params, required = _hints(td)
        problems: list[Problem] = []
        for key, value in node.items():
            if key not in params:
                alike = difflib.get_close_matches(key, params, n=3, cutoff=0.6)
                hint = (
                    f"Parameters it defines that look alike: {', '.join(alike)}."
                    if alike
                    else f"It defines: {', '.join(sorted(params)) or 'none'}."
                )
                problems.append(
                    self.problem(param_path(path, key), "unknown", sent=_shown(value), allowed=hint)
                )
                continue
            problems += self.value(params[key], value, param_path(path, key))
        for key in sorted(required - node.keys()):
            problems.append(self.problem(param_path(path, key), "missing"))
        return problems

    def value(self, tp: Any, value: Any, path: str) -> list[Problem]:
        def wrong(kind: str = "type") -> list[Problem]:
            return [
                self.problem(
                    path, kind, sent=_shown(value), allowed=describe(tp), expected=_expected(tp)
                )
            ]

        if tp is typing.Any:
            return []
        args = _union_args(tp)
        if args is not None:
            return self.union(tp, _open_enum_alternatives(args), value, path)
        origin = te.get_origin(tp)
        if origin is typing.Literal:
            return [] if isinstance(value, str) and value in _literal_values(tp) else wrong("enum")
        if origin is list:
            if isinstance(value, list):
                value = {str(i): v for i, v in enumerate(value)}
            if not _is_list_node(value):
                return wrong()
            (item,) = te.get_args(tp)
            return [p for k, v in value.items() for p in self.value(item, v, param_path(path, k))]
        if origin is dict:
            if not isinstance(value, dict):
                return wrong()
            item = te.get_args(tp)[1]
            return [p for k, v in value.items() for p in self.value(item, v, param_path(path, k))]
        if te.is_typeddict(tp):
            return self.typed_dict(tp, value, path) if isinstance(value, dict) else wrong()
        if _is_untyped_object(tp):
            if not isinstance(value, dict):
                return wrong()
            args = te.get_args(tp)  # UntypedStripeObject[str]: a hash of strings
            if not args:
                return []
            return [
                p for k, v in value.items() for p in self.value(args[0], v, param_path(path, k))
            ]
        if not isinstance(value, str):
            return wrong() if tp in (str, int, bool, float, Decimal) else []
        if tp is str:
            return []
        if tp is int:
            return [] if _INTEGER.fullmatch(value) else wrong()
        if tp is bool:
            return [] if value in ("true", "false") else wrong()
        if tp in (float, Decimal):
            return [] if _NUMBER.fullmatch(value) else wrong()
        if tp is type(None):
            return wrong()
        return [self.problem(path, "unsupported", sent=_shown(value), allowed=repr(tp))]

    def union(self, tp: Any, args: tuple[Any, ...], value: Any, path: str) -> list[Problem]:
        tries = [self.value(a, value, path) for a in args]
        if any(not t for t in tries):
            return []
        if isinstance(value, dict):
            # A hash sent for a union with one hash-shaped alternative: its own problems are
            # the precise ones (`payment_method_options[card][x]`, not "not a string").
            shaped = [
                t
                for a, t in zip(args, tries, strict=True)
                if te.is_typeddict(a) or te.get_origin(a) in (list, dict) or _is_untyped_object(a)
            ]
            # Several alike (`Dict[str, str] | UntypedStripeObject[str]`) that agree, the same.
            if shaped and all(
                [(p.param, p.kind) for p in t] == [(p.param, p.kind) for p in shaped[0]]
                for t in shaped
            ):
                return shaped[0]
        literal_only = all(te.get_origin(a) is typing.Literal for a in args)
        kind = "enum" if literal_only and isinstance(value, str) else "type"
        expected = next((e for e in (_expected(a) for a in args) if e), "")
        return [
            self.problem(path, kind, sent=_shown(value), allowed=describe(tp), expected=expected)
        ]


def params_problems(endpoint: Endpoint, params: dict[str, Any]) -> list[Problem]:
    """What in `params` (a decoded tree) the endpoint's params class does not allow."""
    cls = endpoint.params_class
    judge = _Judge(endpoint.name, endpoint.params_name)
    if cls is None:
        return [
            judge.problem(key, "unknown", sent=_shown(value), allowed="It takes no parameters.")
            for key, value in params.items()
        ]
    return judge.typed_dict(cls, params, "")


def request_problems(
    *, method: str, path: str, query: str = "", body: str = "", stripe_version: str = ""
) -> list[Problem]:
    """Everything wrong with one request as sent on the wire (form-encoded query and body)."""
    method = method.upper()
    path = path.split("?", 1)[0]
    problems: list[Problem] = []
    if stripe_version and stripe_version != API_VERSION:
        problems.append(
            Problem(
                endpoint=f"{method} {path}",
                param="",
                kind="version",
                sent=stripe_version,
                allowed=API_VERSION,
            )
        )
    endpoint = endpoint_for(method, path)
    if endpoint is None:
        return [*problems, Problem(endpoint=f"{method} {path}", param="", kind="endpoint")]
    try:
        params = form_decode(query)
        params.update(form_decode(body))
    except FormConflict as exc:
        return [
            *problems,
            Problem(
                endpoint=endpoint.name,
                param=str(exc),
                kind="type",
                sent="both a value and a hash",
                allowed="one of them",
                params_class=endpoint.params_name,
            ),
        ]
    return problems + params_problems(endpoint, params)
