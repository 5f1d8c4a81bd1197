"""A JQL subset: parser, date-literal rules and evaluation against issue rows.

Supported: clauses `field OP value` with `= != < <= > >= ~ !~ IN, NOT IN, IS, IS NOT` and EMPTY/NULL,
AND/OR/NOT with parentheses, `ORDER BY f [ASC|DESC], ...`. Date values follow Jira's rules, because that is
where incremental extractors go wrong: unquoted integers are epoch milliseconds (absolute), quoted `yyyy/MM/dd
HH:mm`, `yyyy-MM-dd HH:mm`, `yyyy/MM/dd`, `yyyy-MM-dd` are minute-precision wall times in the *searching
user's* time zone, relative periods (`-1d`, `-4w 2d`, `-15m`) and `now()`/`startOfDay()`/`endOfDay()` count
from the emulated clock. Messages imitate Jira's so clients' error handling sees familiar text."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from emulator.timefmt import DAY, HOUR, MINUTE, floor_day, from_datetime

_KEYWORDS = {"and", "or", "not", "in", "is", "empty", "null", "order", "by", "asc", "desc"}
_STOP = set(" \t\r\n(),=<>~!\"'")
_OPERATORS = ("!=", ">=", "<=", "!~", "=", ">", "<", "~")


class JqlError(ValueError):
    """Invalid query; the message is what Jira would put in `errorMessages`."""


@dataclass(frozen=True)
class Token:
    kind: str  # word | string | op | ( | ) | , | eof
    text: str
    pos: int  # 1-based character

    def is_kw(self, *words: str) -> bool:
        return self.kind == "word" and self.text.lower() in words


@dataclass(frozen=True)
class Value:
    kind: str  # word | string | func | empty
    text: str
    args: tuple[str, ...] = ()


@dataclass(frozen=True)
class Clause:
    field: str
    op: str  # = != < <= > >= ~ !~ in "not in" is "is not"
    operand: Value | tuple[Value, ...]
    pos: int


@dataclass(frozen=True)
class BoolNode:
    op: str  # and | or | not
    items: tuple[Any, ...]


@dataclass(frozen=True)
class Query:
    where: Any  # Clause | BoolNode | None
    order: tuple[tuple[str, bool], ...]  # (field, ascending)


def _at(pos: int) -> str:
    return f"(line 1, character {pos})"


def tokenize(text: str) -> list[Token]:
    tokens, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif c in "\"'":
            start, i, chars = i, i + 1, []
            while i < n and text[i] != c:
                if text[i] == "\\" and i + 1 < n:
                    i += 1
                chars.append(text[i])
                i += 1
            if i >= n:
                raise JqlError(
                    f"Error in the JQL Query: The quoted string '{text[start + 1 :]}' has not been "
                    f"completed. {_at(start + 1)}"
                )
            tokens.append(Token("string", "".join(chars), start + 1))
            i += 1
        elif c in "(),":
            tokens.append(Token(c, c, i + 1))
            i += 1
        elif any(text.startswith(op, i) for op in _OPERATORS):
            op = next(op for op in _OPERATORS if text.startswith(op, i))
            tokens.append(Token("op", op, i + 1))
            i += len(op)
        else:
            start = i
            while i < n and text[i] not in _STOP:
                i += 1
            if i == start:
                raise JqlError(
                    f"Error in the JQL Query: The character '{c}' is a reserved JQL character. "
                    f"You must enclose it in a string or use the escape '\\u{ord(c):04x}' instead. "
                    f"{_at(i + 1)}"
                )
            tokens.append(Token("word", text[start:i], start + 1))
    tokens.append(Token("eof", "", n + 1))
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.i = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def parse(self) -> Query:
        where = None
        if not (self.tok.kind == "eof" or self.tok.is_kw("order")):
            where = self.or_expr()
        order: list[tuple[str, bool]] = []
        if self.tok.is_kw("order"):
            self.take()
            if not self.tok.is_kw("by"):
                raise JqlError(
                    f"Error in the JQL Query: Expecting 'BY' but got '{self.tok.text}'. {_at(self.tok.pos)}"
                )
            self.take()
            while True:
                name = self.take()
                if name.kind not in ("word", "string") or (
                    name.kind == "word" and name.text.lower() in _KEYWORDS
                ):
                    raise JqlError(
                        f"Error in the JQL Query: Expecting a field name but got '{name.text or 'EOF'}'. "
                        f"{_at(name.pos)}"
                    )
                ascending = True
                if self.tok.is_kw("asc", "desc"):
                    ascending = self.take().text.lower() == "asc"
                order.append((name.text, ascending))
                if self.tok.kind != ",":
                    break
                self.take()
        if self.tok.kind != "eof":
            raise JqlError(
                f"Error in the JQL Query: Expecting either 'OR' or 'AND' but got '{self.tok.text}'. "
                f"{_at(self.tok.pos)}"
            )
        return Query(where, tuple(order))

    def or_expr(self) -> Any:
        items = [self.and_expr()]
        while self.tok.is_kw("or"):
            self.take()
            items.append(self.and_expr())
        return items[0] if len(items) == 1 else BoolNode("or", tuple(items))

    def and_expr(self) -> Any:
        items = [self.not_expr()]
        while self.tok.is_kw("and"):
            self.take()
            items.append(self.not_expr())
        return items[0] if len(items) == 1 else BoolNode("and", tuple(items))

    def not_expr(self) -> Any:
        if self.tok.is_kw("not"):
            self.take()
            return BoolNode("not", (self.not_expr(),))
        if self.tok.kind == "(":
            self.take()
            inner = self.or_expr()
            if self.tok.kind != ")":
                raise JqlError(
                    f"Error in the JQL Query: Expecting ')' but got '{self.tok.text or 'EOF'}'. "
                    f"{_at(self.tok.pos)}"
                )
            self.take()
            return inner
        return self.clause()

    def clause(self) -> Clause:
        name = self.take()
        if name.kind not in ("word", "string") or (name.kind == "word" and name.text.lower() in _KEYWORDS):
            raise JqlError(
                f"Error in the JQL Query: Expecting a field name but got '{name.text or 'EOF'}'. "
                f"{_at(name.pos)}"
            )
        op_tok = self.take()
        if op_tok.kind == "op":
            op = op_tok.text
        elif op_tok.is_kw("in"):
            op = "in"
        elif op_tok.is_kw("is"):
            op = "is"
            if self.tok.is_kw("not"):
                self.take()
                op = "is not"
        elif op_tok.is_kw("not") and self.tok.is_kw("in"):
            self.take()
            op = "not in"
        else:
            raise JqlError(
                f"Error in the JQL Query: Expecting operator but got '{op_tok.text or 'EOF'}'. The valid "
                "operators are '=', '!=', '<', '>', '<=', '>=', '~', '!~', 'IN', 'NOT IN', 'IS' and "
                f"'IS NOT'. {_at(op_tok.pos)}"
            )
        if op in ("in", "not in"):
            if self.tok.kind != "(":
                return Clause(name.text, op, (self.value(),), name.pos)
            self.take()
            values = [self.value()]
            while self.tok.kind == ",":
                self.take()
                values.append(self.value())
            if self.tok.kind != ")":
                raise JqlError(
                    f"Error in the JQL Query: Expecting ')' but got '{self.tok.text or 'EOF'}'. "
                    f"{_at(self.tok.pos)}"
                )
            self.take()
            return Clause(name.text, op, tuple(values), name.pos)
        return Clause(name.text, op, self.value(), name.pos)

    def value(self) -> Value:
        tok = self.take()
        if tok.kind == "string":
            return Value("string", tok.text)
        if tok.is_kw("empty", "null"):
            return Value("empty", tok.text)
        if tok.kind == "word" and tok.text.lower() not in _KEYWORDS:
            if self.tok.kind == "(":
                self.take()
                args = []
                while self.tok.kind != ")":
                    arg = self.take()
                    if arg.kind == "eof":
                        raise JqlError(f"Error in the JQL Query: Expecting ')' but got 'EOF'. {_at(arg.pos)}")
                    if arg.kind != ",":
                        args.append(arg.text)
                self.take()
                return Value("func", tok.text, tuple(args))
            return Value("word", tok.text)
        shown = tok.text or "EOF"
        raise JqlError(
            f"Error in the JQL Query: Expecting either a value, list or function but got '{shown}'. "
            f"You must surround '{shown}' in quotation marks to use it as a value. {_at(tok.pos)}"
        )


def parse(text: str) -> Query:
    return _Parser(text or "").parse()


# --- evaluation ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldSpec:
    """How a JQL field reads an issue row. kind: date | enum | multi | key | number | text | user."""

    kind: str
    get: Callable[[Any], Any]
    known: frozenset[str] | None = None  # valid lower-cased values (unknown ones are a query error)
    sortable: bool = True


@dataclass
class Context:
    fields: dict[str, FieldSpec]  # lower-cased names and aliases
    now_ms: int
    tz: dt.tzinfo
    current_user: str = ""
    _cache: dict[Any, Any] = field(default_factory=dict)

    def spec(self, name: str) -> FieldSpec:
        found = self.fields.get(name.lower())
        if found is None:
            raise JqlError(f"Field '{name}' does not exist or you do not have permission to view it.")
        return found


_DATE_FORMATS = ("%Y/%m/%d %H:%M", "%Y-%m-%d %H:%M", "%Y/%m/%d", "%Y-%m-%d")
_PERIOD = re.compile(r"^([+-]?)\s*((?:\d+\s*[wdhm]\s*)+)$", re.IGNORECASE)
_UNIT = {"w": 7 * DAY, "d": DAY, "h": HOUR, "m": MINUTE}


def _period(text: str) -> int | None:
    found = _PERIOD.match(text.strip())
    if not found:
        return None
    total = sum(
        int(num) * _UNIT[unit.lower()] for num, unit in re.findall(r"(\d+)\s*([wdhmWDHM])", found.group(2))
    )
    return -total if found.group(1) == "-" else total


def date_value(value: Value, field_name: str, ctx: Context) -> int:
    if value.kind == "func":
        name = value.text.lower()
        shift = _period(value.args[0].strip("'\"")) if value.args else 0
        if shift is None:
            raise JqlError(f"The argument '{value.args[0]}' for function '{value.text}' is invalid.")
        if name == "now":
            return ctx.now_ms + shift
        if name in ("startofday", "endofday"):
            start = floor_day(ctx.now_ms + shift, ctx.tz)
            return start if name == "startofday" else start + DAY - 1
        raise JqlError(f"Unable to find JQL function '{value.text}({', '.join(value.args)})'.")
    text = value.text.strip()
    if re.fullmatch(r"\d{9,}", text):
        return int(text)
    shift = _period(text)
    if shift is not None:
        return ctx.now_ms + shift
    for fmt in _DATE_FORMATS:
        try:
            naive = dt.datetime.strptime(text, fmt)
        except ValueError:
            continue
        return from_datetime(naive.replace(tzinfo=ctx.tz))
    raise JqlError(
        f"Date value '{value.text}' for field '{field_name}' is invalid. Valid formats include: "
        "'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', or a period format e.g. '-5d', "
        "'4w 2d'."
    )


_ALLOWED = {
    "date": {"=", "!=", "<", "<=", ">", ">=", "in", "not in", "is", "is not"},
    "number": {"=", "!=", "<", "<=", ">", ">=", "in", "not in", "is", "is not"},
    "key": {"=", "!=", "<", "<=", ">", ">=", "in", "not in", "is", "is not"},
    "enum": {"=", "!=", "in", "not in", "is", "is not"},
    "user": {"=", "!=", "in", "not in", "is", "is not"},
    "multi": {"=", "!=", "in", "not in", "is", "is not"},
    "text": {"~", "!~", "is", "is not"},
}


def _literal(value: Value, name: str, spec: FieldSpec, ctx: Context) -> Any:
    if spec.kind == "date":
        return date_value(value, name, ctx)
    if value.kind == "func" and value.text.lower() == "currentuser":
        return ctx.current_user.lower()
    text = value.text.strip()
    if spec.kind == "number":
        if not re.fullmatch(r"-?\d+", text):
            raise JqlError(f"The value '{value.text}' for field '{name}' is invalid.")
        return int(text)
    if spec.kind == "key":
        found = re.fullmatch(r"([A-Za-z][A-Za-z0-9_]*)-(\d+)", text)
        if not found:
            if re.fullmatch(r"\d+", text):  # Jira accepts an issue id where a key is expected
                return ("#id", int(text))
            raise JqlError(f"The issue key '{value.text}' for field '{name}' is invalid.")
        return (found.group(1).upper(), int(found.group(2)))
    lowered = text.lower()
    if spec.known is not None and lowered not in spec.known:
        raise JqlError(f"The value '{value.text}' does not exist for the field '{name}'.")
    return lowered


def _compare(op: str, left: Any, right: Any) -> bool:
    if left is None:  # Jira leaves EMPTY values out of every comparison, != included
        return False
    if op == "=":
        return left == right
    if op == "!=":
        return left != right
    try:
        return {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}[op]
    except TypeError:
        return False


def _clause_predicate(clause: Clause, ctx: Context) -> Callable[[Any], bool]:
    spec = ctx.spec(clause.field)
    op = clause.op
    if isinstance(clause.operand, Value) and clause.operand.kind == "empty" and op in ("=", "!="):
        op = "is" if op == "=" else "is not"  # `assignee = EMPTY`, `id != null` mean IS [NOT] EMPTY
    if op not in _ALLOWED[spec.kind]:
        raise JqlError(f"The operator '{op.upper()}' is not supported by the '{clause.field}' field.")
    if op in ("is", "is not"):
        operand = clause.operand
        if not isinstance(operand, Value) or operand.kind != "empty":
            raise JqlError(f"The operator '{op.upper()}' only supports EMPTY or NULL. {_at(clause.pos)}")

        def is_empty(row: Any) -> bool:
            value = spec.get(row)
            return value is None or value == () or value == ""

        return is_empty if op == "is" else (lambda row: not is_empty(row))
    values = clause.operand if isinstance(clause.operand, tuple) else (clause.operand,)
    if any(v.kind == "empty" for v in values):
        raise JqlError(
            f"The field '{clause.field}' does not support searching for EMPTY values with "
            f"'{op.upper()}'; use IS EMPTY. {_at(clause.pos)}"
        )
    literals = [_literal(v, clause.field, spec, ctx) for v in values]

    if spec.kind == "text":
        needle = literals[0].strip("*")
        return lambda row: (needle in (spec.get(row) or "").lower()) == (op == "~")
    if spec.kind == "multi":
        wanted = set(literals)
        if op in ("=", "in"):
            return lambda row: bool(wanted & {v.lower() for v in spec.get(row)})
        return lambda row: not (wanted & {v.lower() for v in spec.get(row)})
    if spec.kind == "key":
        # row value: (PROJECT, number, id[, former keys]); literal: (PROJECT, number) or ("#id", id).
        # A moved issue answers to its former keys too (Jira redirects them), but sorts by its current one.

        def key_of(row: Any, lit: tuple[str, int]) -> tuple[str, int]:
            project, number, issue_id = spec.get(row)[:3]
            return ("#id", issue_id) if lit[0] == "#id" else (project, number)

        def is_key(row: Any, lit: tuple[str, int]) -> bool:
            if key_of(row, lit) == lit:
                return True
            value = spec.get(row)
            former = value[3] if len(value) > 3 else ()
            return lit[0] != "#id" and any(
                (k.rsplit("-", 1)[0].upper(), int(k.rsplit("-", 1)[1])) == lit for k in former
            )

        if op in ("in", "not in"):
            return lambda row: any(is_key(row, lit) for lit in literals) == (op == "in")
        key_lit = literals[0]
        if op in ("=", "!="):
            return lambda row: is_key(row, key_lit) == (op == "=")
        return lambda row: (
            key_of(row, key_lit)[0] == key_lit[0] and _compare(op, key_of(row, key_lit), key_lit)
        )
    if spec.kind == "date" and op == "=":
        minute = literals[0] // MINUTE
        return lambda row: spec.get(row) is not None and spec.get(row) // MINUTE == minute
    if op in ("in", "not in"):
        wanted_values = set(literals)

        def member(row: Any) -> bool:
            value = spec.get(row)
            options = value if isinstance(value, tuple) else (value,)
            return any(o in wanted_values for o in options)

        return member if op == "in" else (lambda row: not member(row))
    lit = literals[0]

    def compare(row: Any) -> bool:
        value = spec.get(row)
        if isinstance(value, tuple):  # project / user: several names for one thing
            return (
                any(_compare(op, v, lit) for v in value)
                if op == "="
                else all(_compare(op, v, lit) for v in value)
            )
        return _compare(op, value, lit)

    return compare


def predicate(node: Any, ctx: Context) -> Callable[[Any], bool]:
    if isinstance(node, Clause):
        return _clause_predicate(node, ctx)
    parts = [predicate(item, ctx) for item in node.items]
    if node.op == "and":
        return lambda row: all(p(row) for p in parts)
    if node.op == "or":
        return lambda row: any(p(row) for p in parts)
    return lambda row: not parts[0](row)


def sort_rows(rows: list[Any], order: tuple[tuple[str, bool], ...], ctx: Context) -> list[Any]:
    """Stable multi-key sort; empty values sort last in either direction."""
    out = list(rows)
    for name, ascending in reversed(order):
        spec = ctx.fields.get(name.lower())
        if spec is None or not spec.sortable:
            raise JqlError(f"Not able to sort using field '{name}'.")
        present = [r for r in out if spec.get(r) is not None]
        missing = [r for r in out if spec.get(r) is None]
        present.sort(key=spec.get, reverse=not ascending)
        out = present + missing
    return out
