"""Bounds on what one script, condition or decision cell may compute, enforced before each step.

The deadline in engine/scripting.py runs between Python lines, so one C-level operation
(`(7**1000)**1000`, `'x'.zfill(10**9)`, `s.replace('x', s)`) could run or allocate without limit.
Here every operation that can grow a value is rewritten (at compile time, by AST) into a call that
computes the size of its result *before* making it, and refuses past a bound:

- integers: `*`, `**` and `<<` past MAX_INT_BITS; `round(n, -k)` past MAX_INT_BITS too;
- strings, lists, tuples, sets, dicts: any result past MAX_SEQUENCE items or characters
  (`+`, `*`, `%`, `|`, slices, method calls such as zfill, replace, join, extend, union, `str()` of a
  container, f-strings), and format widths past MAX_FORMAT_WIDTH;
- everything one evaluation builds (results of those operations, comprehension items, `range`,
  `list()`...) adds to a budget of MAX_BUDGET items, so a loop that keeps copies stops there.

Why not worker processes with RLIMIT_AS/RLIMIT_CPU: measured on the 2-core bench machine, a pipe
round trip to a forked evaluator costs about 0.4 ms per expression on top of the evaluation
itself (about 0.15 ms); an action evaluates 5 to 20 expressions (gateways, DMN cells, task
properties), so 2 to 8 ms per action, more than the whole bare SpiffWorkflow cycle (1.4 to 3.8 ms,
docs/benchmarks.md); and the data the scripts read would be pickled both ways. The rewrite costs
nothing for a condition with no such operation and one Python call per operation otherwise. The
CPU deadline (engine/scripting.py) stays for loops. `constant_problems` lets check and deploy
refuse a literal that would pass a bound.

Other evaluators (FEEL in engine/feel) reuse `check_length`, `check_int_bits` and `spend`.
"""

from engine.sandbox.limits import (
    BOUNDED_BUILTINS,
    INTERNALS,
    MAX_BUDGET,
    MAX_FORMAT_WIDTH,
    MAX_INT_BITS,
    MAX_SEQUENCE,
    ScriptRejected,
    TooLarge,
    budget,
    check_int_bits,
    check_length,
    size_of,
    spend,
)
from engine.sandbox.rewrite import bound, constant_problems, format_problems

__all__ = [
    "BOUNDED_BUILTINS",
    "INTERNALS",
    "MAX_BUDGET",
    "MAX_FORMAT_WIDTH",
    "MAX_INT_BITS",
    "MAX_SEQUENCE",
    "ScriptRejected",
    "TooLarge",
    "bound",
    "budget",
    "check_int_bits",
    "check_length",
    "constant_problems",
    "format_problems",
    "size_of",
    "spend",
]
