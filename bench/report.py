"""The table `make bench` prints: every figure next to its reference and target, PASS or MISS."""

from __future__ import annotations

from typing import Any

from .actions import PATHS
from .flows import PROCESSES, SHORT
from .queues import GROWTH_TARGET
from .workers import SCAN_TARGET_MS, TIMERS_TARGET


def _f(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _status(ok: bool | None) -> str:
    return "-" if ok is None else ("PASS" if ok else "MISS")


def _kb(value: Any) -> str:
    return "-" if value is None else f"{value / 1024:.1f}"


class Table:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.misses: list[str] = []
        self.passes = 0

    def add(self, line: str = "") -> None:
        self.lines.append(line)

    def verdict(self, ok: bool | None, what: str) -> str:
        if ok is True:
            self.passes += 1
        elif ok is False:
            self.misses.append(what)
        return _status(ok)


def render(results: dict[str, Any]) -> tuple[str, list[str]]:
    """The whole table as text, and the list of missed targets."""
    t = Table()
    env = results["environment"]
    s = results["sections"]
    t.add(
        f"Waypoint benchmark ({results['mode']}): Python {env.get('python')}, "
        f"SpiffWorkflow {env.get('spiffworkflow')}, "
        f"SQLAlchemy {env.get('sqlalchemy')}, Flask {env.get('flask')}, SQLite {env.get('sqlite')}, PostgreSQL "
        f"{env.get('postgresql') or '-'}; {env.get('cpus')} CPUs {env.get('machine')}, Linux {env.get('kernel')}; "
        f"git {env.get('git')}; {env.get('date')}"
    )
    data = s.get("data", {})
    if data:
        t.add(
            f"Data: {data.get('templates')} template requests through the engine, cloned to "
            + ", ".join(
                f"{k} ({v['instances']:,} instances, {v['open_tasks']:,} open tasks)"
                for k, v in data.get("sets", {}).items()
            )
            + f"; {'built in ' + _f(data.get('build_seconds')) + ' s' if data.get('build_seconds') else 'cached'}"
        )
    t.add(
        "Reference (the denominator of every ratio): bare (spec-free) = SpiffWorkflow through Waypoint's "
        "spec-free loader and restricted script engine: deserialize, complete, do_engine_steps, serialize. "
        "bare (stock) = the same with SpiffWorkflow's stock serializer (spec inside), for information ('-' where "
        "it cannot serialize Waypoint's DMN runner). Times in ms, median and p95."
    )
    for figure, title in (("complete", "1. Complete a mid-flow task"), ("start", "2. Start a request")):
        actions = s.get("actions", {})
        if not actions:
            continue
        t.add("")
        server = next((r.get("server") for r in actions.values() if r.get("server")), "-")
        t.add(f"{title} (server: {server})")
        t.add(
            f"  {'db':<10} {'process':<11} {'path':<16} {'median':>7} {'p95':>7}  {'bare stock':>10} "
            f"{'spec-free':>9}  {'ratio':>5} {'p95 ratio':>9}  {'target':>6}  status"
        )
        for kind, result in actions.items():
            for key in PROCESSES:
                proc = result.get("processes", {}).get(key)
                if not proc:
                    continue
                fig = proc[figure]
                stock, free = fig["bare (stock)"], fig["bare (spec-free)"]
                for path in PATHS:
                    row = fig.get(path)
                    if not row or row.get("median") is None:
                        continue
                    ok = t.verdict(
                        row.get("pass"),
                        f"{figure} {kind} {SHORT[key]} {path}: {row.get('ratio')}x > {row.get('target')}x",
                    )
                    t.add(
                        f"  {kind:<10} {SHORT[key]:<11} {path:<16} {_f(row['median']):>7} {_f(row['p95']):>7}  "
                        f"{_f(stock['median'], 2):>10} {_f(free['median'], 2):>9}  {_f(row.get('ratio'), 2):>5} "
                        f"{_f(row.get('ratio_p95'), 2):>9}  {'<=' + _f(row.get('target')):>6}  {ok}"
                    )
            if result.get("errors"):
                for path, error in result["errors"].items():
                    t.add(f"  {kind}: {path} failed: {error[:160]}")
    if s.get("throughput"):
        t.add("")
        t.add("3. Throughput: task completions per second, 2 worker processes through the engine API")
        t.add(
            f"  {'db':<10} {'per second':>10} {'completions':>11} {'seconds':>7}  {'per worker':<14} "
            f"{'latency p95 ms':<15} {'target':>7}  status"
        )
        for kind, r in s["throughput"].items():
            ok = t.verdict(r.get("pass"), f"throughput {kind}: {r['per_second']}/s < {r.get('target')}/s")
            lat = "/".join(_f(x.get("p95")) for x in r["latency_ms"])
            sql = "/".join(f"{(x or 0) * 100:.0f}%" for x in r.get("sql_share", []))
            lock = "/".join(f"{(x or 0) * 100:.0f}%" for x in r.get("lock_wait_share", []))
            grown = "/".join(_f(x, 2) for x in r.get("rss_growth_mb_per_1000", []))
            t.add(
                f"  {kind:<10} {_f(r['per_second']):>10} {r['completions']:>11} {_f(r['seconds']):>7}  "
                f"{'/'.join(_f(x) for x in r['per_worker']):<14} {lat:<15} "
                f"{('>=' + _f(r.get('target'), 0)) if r.get('target') else '-':>7}  {ok}"
                + f"  (time in SQL {sql}; waiting for the write lock {lock}; memory grown {grown} MiB per 1,000)"
                + ("  (pool ran out)" if r.get("pool_exhausted") else "")
            )
    if s.get("queues"):
        t.add("")
        t.add(
            "4. Inbox pages at scale: server time (Flask test client), p95 target 25 ms, "
            f"growth small->large <= {GROWTH_TARGET}x"
        )
        for kind, r in s["queues"].items():
            small, large = r.get("small_size"), r.get("large_size")
            t.add(f"  {kind}: {small:,} -> {large:,} instances ({r.get('large_open_tasks', 0):,} open tasks)")
            t.add(
                f"    {'view':<11} {'person':<10} {'median':>7} {'p95':>7} {'p95 small':>9} {'growth':>6}  "
                f"{'p95 status':<10} {'growth status':<13} {'HTTP p95':>8}"
            )
            for view, g in r["growth"].items():
                fig = r["large"][view]
                ok = t.verdict(g["pass"], f"inbox {kind} {view}: p95 {g['p95_large']} ms > 25 ms")
                okg = t.verdict(g["growth_pass"], f"inbox {kind} {view}: growth {g['growth']}x > {GROWTH_TARGET}x")
                http = r.get("http", {}).get("views", {}).get(view, {})
                t.add(
                    f"    {view:<11} {fig['person']:<10} {_f(fig['median']):>7} {_f(fig['p95']):>7} "
                    f"{_f(g['p95_small']):>9} {_f(g['growth'], 2):>6}  {ok:<10} {okg:<13} "
                    f"{_f(http.get('p95')):>8}"
                )
    if s.get("scheduler"):
        t.add("")
        t.add("5. Scheduler: one worker; scans over the large data set")
        for kind, r in s["scheduler"].items():
            b, m = r["bpmn"], r["reminders"]
            rate = f"{TIMERS_TARGET:.0f}/s"
            okb = t.verdict(b.get("pass"), f"scheduler {kind}: BPMN timers {b['per_second']}/s < {rate}")
            okm = t.verdict(m.get("pass"), f"scheduler {kind}: reminders {m['per_second']}/s < {rate}")
            t.add(
                f"  {kind:<10} BPMN timers fired/s {_f(b['per_second']):>7} ({b['fired']} in {b['seconds']} s)  "
                f">={TIMERS_TARGET:.0f}  {okb}"
            )
            t.add(
                f"  {kind:<10} reminders fired/s   {_f(m['per_second']):>7} ({m['fired']} in {m['seconds']} s)  "
                f">={TIMERS_TARGET:.0f}  {okm}"
            )
            if "claim_batch_ms" in r:
                for name, label in (
                    ("claim_idle_ms", "reminder scan, nothing due"),
                    ("claim_batch_ms", "reminder scan, claim 50 due"),
                    ("digest_ms", "daily digest over open tasks"),
                ):
                    fig = r[name]
                    limit = f"{fig.get('target', SCAN_TARGET_MS):.0f} ms"
                    ok = t.verdict(fig.get("pass"), f"scheduler {kind}: {label} p95 {fig['p95']} ms > {limit}")
                    t.add(
                        f"  {kind:<10} {label:<30} median {_f(fig['median']):>7} ms  p95 {_f(fig['p95']):>7} ms  "
                        f"<={limit}  {ok}   ({r.get('scale_open_tasks', 0):,} open tasks, "
                        f"{r.get('scale_timers', 0):,} timer rows)"
                    )
    if s.get("storage"):
        t.add("")
        t.add("6. Storage: KiB per finished instance (sampled), and all tables (with indexes) per instance")
        for kind, r in s["storage"].items():
            for key, parts in r["per_process"].items():
                rest = ", ".join(f"{k} {_kb(v)}" for k, v in parts.items() if k not in ("total", "sampled", "state"))
                t.add(
                    f"  {kind:<10} {SHORT[key]:<11} total {_kb(parts['total']):>6}: state {_kb(parts['state'])}, {rest}"
                )
            tables = r["tables"]
            top = ", ".join(f"{k} {_kb(v)}" for k, v in list(tables["tables_per_instance"].items())[:6])
            t.add(
                f"  {kind:<10} whole database {_kb(tables['per_instance'])} KiB per instance "
                f"({tables['total_bytes'] / 2**20:,.0f} MiB for {tables['instances']:,}): {top}"
            )
            spec = r["spec"]
            ok = t.verdict(spec["pass"], f"storage {kind}: a stored state holds a spec")
            sizes = ", ".join(
                f"{k}: files {_kb(v['definition_files_bytes'])}, stock spec JSON {_kb(v['stock_spec_json_bytes'])}"
                for k, v in spec["versions"].items()
            )
            t.add(
                f"  {kind:<10} spec stored once per version ({spec['states_with_spec']} of "
                f"{spec['states_checked']} states hold one)  {ok}; per version KiB: {sizes}"
            )
    if s.get("memory"):
        t.add("")
        t.add("7. Memory: peak RSS (VmHWM), target <= 200 MiB")
        for name, r in s["memory"].items():
            ok = t.verdict(r.get("pass"), f"memory {name}: {r['peak_mb']} MiB > 200 MiB") if r.get("target") else "-"
            limit = ("<=" + _f(r.get("target"), 0)) if r.get("target") else ""
            t.add(f"  {name:<44} {_f(r['peak_mb']):>7} MiB  {limit:>6}  {ok}")
    t.add("")
    t.add(f"{t.passes} targets met, {len(t.misses)} missed; wall time {results.get('wall_seconds', 0):.0f} s")
    for miss in t.misses:
        t.add(f"  MISS {miss}")
    return "\n".join(t.lines), t.misses
