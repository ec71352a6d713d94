"""FEEL's built-in functions on lists and contexts (DMN 1.5 §10.3.4); see engine/feel/builtins.py."""

from __future__ import annotations

import functools
import statistics
from decimal import Decimal
from typing import Any

from engine.feel.builtins import BUILTINS, _is_number, _items, _strings, builtin
from engine.feel.operators import compare, equals
from engine.feel.values import NUMBERS, Function, check_size


# --- lists --------------------------------------------------------------------------------------
def _extreme(args: tuple[Any, ...], sign: int) -> Any:
    items = _items(args)
    if not items:
        return None
    best = items[0]
    for item in items[1:]:
        order = compare(item, best)
        if order is None:
            return None
        best = item if order == sign else best
    return best


@builtin("min", "list", variadic=True)
def _min(*args: Any) -> Any:
    return _extreme(args, -1)


@builtin("max", "list", variadic=True)
def _max(*args: Any) -> Any:
    return _extreme(args, 1)


@builtin("sum", "list", variadic=True)
def _sum(*args: Any) -> Decimal | None:
    items = _items(args)
    if items is None or not _is_number(*items):
        return None
    total = Decimal(0)
    for item in items:
        total = NUMBERS.add(total, item)
    return total if items else None


@builtin("product", "list", variadic=True)
def _product(*args: Any) -> Decimal | None:
    items = _items(args)
    if not items or not _is_number(*items):
        return None
    total = Decimal(1)
    for item in items:
        total = NUMBERS.multiply(total, item)
    return total


@builtin("mean", "list", variadic=True)
def _mean(*args: Any) -> Decimal | None:
    items = _items(args)
    total = _sum(*args)
    return None if total is None or not items else NUMBERS.divide(total, Decimal(len(items)))


@builtin("median", "list", variadic=True)
def _median(*args: Any) -> Decimal | None:
    items = _items(args)
    return statistics.median(items) if items and _is_number(*items) else None


@builtin("stddev", "list", variadic=True)
def _stddev(*args: Any) -> Decimal | None:
    items = _items(args)
    return statistics.stdev(items) if items and len(items) > 1 and _is_number(*items) else None


@builtin("count", "list", variadic=True)
def _count(*args: Any) -> Decimal | None:
    items = _items(args)
    return Decimal(len(items)) if items is not None else Decimal(0)


@builtin("all", "list", variadic=True)
def _all(*args: Any) -> bool | None:
    items = _items(args) or []
    if any(i is False for i in items):
        return False
    return True if all(i is True for i in items) else None


@builtin("any", "list", variadic=True)
def _any(*args: Any) -> bool | None:
    items = _items(args) or []
    if any(i is True for i in items):
        return True
    return False if all(i is False for i in items) else None


BUILTINS["and"], BUILTINS["or"] = BUILTINS["all"], BUILTINS["any"]


@builtin("list contains", "list;element")
def _list_contains(items: Any, element: Any) -> bool | None:
    return any(equals(i, element) is True for i in items) if isinstance(items, list) else None


@builtin("sublist", "list;start position;length")
def _sublist(items: Any, start: Any, length: Any = None) -> list | None:
    if not isinstance(items, list) or not _is_number(start) or start == 0:
        return None
    begin = int(start) - 1 if start > 0 else len(items) + int(start)
    return items[begin:] if length is None else items[begin : begin + int(length)]


@builtin("append", "list;item", variadic=True)
def _append(items: Any, *more: Any) -> list | None:
    return check_size([*items, *more]) if isinstance(items, list) else None


@builtin("concatenate", "list", variadic=True)
def _concatenate(*lists: Any) -> list | None:
    if not all(isinstance(i, list) for i in lists):
        return None
    return check_size([item for i in lists for item in i])


@builtin("insert before", "list;position;newItem")
def _insert_before(items: Any, position: Any, new: Any) -> list | None:
    if not isinstance(items, list) or not _is_number(position) or position == 0:
        return None
    index = int(position) - 1 if position > 0 else len(items) + int(position)
    return [*items[:index], new, *items[index:]]


@builtin("remove", "list;position")
def _remove(items: Any, position: Any) -> list | None:
    if not isinstance(items, list) or not _is_number(position) or position == 0:
        return None
    index = int(position) - 1 if position > 0 else len(items) + int(position)
    return [*items[:index], *items[index + 1 :]] if 0 <= index < len(items) else None


@builtin("reverse", "list")
def _reverse(items: Any) -> list | None:
    return list(reversed(items)) if isinstance(items, list) else None


@builtin("index of", "list;match")
def _index_of(items: Any, match: Any) -> list | None:
    if not isinstance(items, list):
        return None
    return [Decimal(i + 1) for i, item in enumerate(items) if equals(item, match) is True]


@builtin("distinct values", "list")
def _distinct(items: Any) -> list | None:
    if not isinstance(items, list):
        return None
    kept: list[Any] = []
    for item in items:
        if not any(equals(item, k) is True for k in kept):
            kept.append(item)
    return kept


@builtin("union", "list", variadic=True)
def _union(*lists: Any) -> list | None:
    joined = _concatenate(*lists)
    return _distinct(joined) if joined is not None else None


@builtin("flatten", "list")
def _flatten(items: Any) -> list | None:
    if not isinstance(items, list):
        return None
    flat: list[Any] = []
    for item in items:
        flat.extend(_flatten(item) if isinstance(item, list) else [item])
    return check_size(flat)


@builtin("sort", "list;precedes")
def _sort(items: Any, precedes: Any = None) -> list | None:
    if not isinstance(items, list):
        return None

    def order(a: Any, b: Any) -> int:
        if isinstance(precedes, Function):
            return -1 if precedes.invoke([a, b]) is True else 1
        return compare(a, b) or 0

    return sorted(items, key=functools.cmp_to_key(order))


# --- contexts -----------------------------------------------------------------------------------
@builtin("get value", "m;key")
def _get_value(context: Any, key: Any) -> Any:
    return context.get(key) if isinstance(context, dict) and _strings(key) else None


@builtin("get entries", "m")
def _get_entries(context: Any) -> list | None:
    return [{"key": k, "value": v} for k, v in context.items()] if isinstance(context, dict) else None
