"""The benchmark's data: real requests through the engine, cloned in bulk into an office's whole history.

1. *Templates*: `engine.demo.history.generate` drives a few hundred realistic requests through the engine
   over the year before `ANCHOR` (every process, every state: waiting at each step, finished with each
   outcome, timers fired, messages received), into a SQLite file cached under bench/.cache/.
2. *Clones*: every row of a template instance (the instance with its state and data, its task index
   rows, audit events, timers, message subscriptions, and any other table keyed by `instance_id`) is
   copied with a new instance id, new task UUIDs (the first 8 hex digits replaced by the new instance
   id, in the state JSON and in every table), shifted timestamps (columns, and timer due times inside
   the state), unique message correlation values, and a recomputed audit hash chain. Rows go in with
   executemany (SQLite) or COPY (PostgreSQL); running templates are cloned more often than finished
   ones so the data set has exactly N instances and about N/2 open tasks.
3. *Checks*: counts, audit chains of sampled clones, sampled clones loaded and completed through the
   engine (rolled back), timers inside the state matching the timers table.

Built databases are cached (SQLite file under bench/.cache/, PostgreSQL schema) under a key that
changes with the data version, the schema, the process files and the engine's storage code.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import sqlite3
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, DateTime, Integer, create_engine, func, select, text
from sqlalchemy.sql.schema import Table

from engine import Database, Engine, ManualClock, WaypointError
from engine import audit as audit_mod
from engine.demo.people import DEMO_PASSWORD, seed_demo_users
from engine.models import Base, ProcessDefinition, ProcessInstance, TaskRecord, Timer, User
from engine.models.states import compress, decompress

from .common import (
    ANCHOR,
    BENCH_DATA_KEY,
    BPMN,
    CACHE,
    ROOT,
    bench_engine,
    log,
    pg_url,
    remove_sqlite,
    reset_pg_schema,
    sqlite_url,
)

DATA_VERSION = 3
TEMPLATE_REQUESTS = 300
TEMPLATE_DAYS = 365
SEED = 42
#: finished requests are spread over this much more history; running ones are moved so that their last
#: action falls in the `RUNNING_SPREAD` before ANCHOR (their tasks then are due, or overdue, like a live queue's)
HISTORY_SPREAD = timedelta(days=3 * 365)
RUNNING_SPREAD = timedelta(days=7)
#: tables keyed by instance_id that are side effects, not instance state: never cloned
NOT_CLONED = {"outbox", "incidents", "attachments", "sensitive_access", "task_drafts", "idempotency_keys"}
CHUNK = 2000

UUID_HEAD = r"(?<![0-9a-f])[0-9a-f]{8}(?=-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(?![0-9a-f]))"
ISO_RE = r'"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:\+00:00|Z))"'
UUID_FULL = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

#: files whose change changes the stored data (the cache key); engine/runtime.py is left out on purpose
#: (faster code writes the same rows): `python -m bench --rebuild` forces a rebuild after other changes
KEY_FILES = [
    "engine/privacy/vault.py",
    "engine/serialization.py",
    "engine/taskindex.py",
    "engine/audit.py",
    "engine/persist.py",
    "engine/locking.py",
    "engine/mail/notifications.py",
]
KEY_DIRS = ["engine/models", "engine/demo", "engine/migrations/versions", "bpmn", "workflows"]


def _digest(paths: list[Path], seed: str) -> str:
    digest = hashlib.sha256(seed.encode())
    for path in paths:  # a missing file is a stale list, not "unchanged"
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def template_key() -> str:
    """Cache key of the template requests: the engine's storage code, schema, processes, generator."""
    import SpiffWorkflow

    paths = [ROOT / p for p in KEY_FILES]
    for folder in KEY_DIRS:
        paths += sorted(p for p in (ROOT / folder).rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    seed = (
        f"{TEMPLATE_REQUESTS}|{TEMPLATE_DAYS}|{SEED}|{ANCHOR.isoformat()}|{getattr(SpiffWorkflow, '__version__', '')}"
        f"|{BENCH_DATA_KEY}"
    )
    return _digest(paths, seed)


def data_key() -> str:
    """Cache key of the scale data sets: the templates' key, the data version and this cloning code."""
    return _digest([Path(__file__)], f"{DATA_VERSION}|{template_key()}")


# --- preparing a database -------------------------------------------------------------------------
def prepare(db: Database, *, passwords: bool = True) -> Engine:
    """Schema at head, the demo org chart (with passwords, for sign-in), every process deployed."""
    db.upgrade()
    engine = bench_engine(clock=ManualClock(ANCHOR))
    with db.transaction() as s:
        seed_demo_users(s, ANCHOR, password=DEMO_PASSWORD if passwords else None)
        engine.deploy(s, [BPMN], deployed_by="admin")
    return engine


def template_path(key: str) -> Path:
    return CACHE / f"templates-{key}.db"


def ensure_templates() -> tuple[Path, float]:
    """The template database (built when missing): (path, seconds spent building)."""
    from engine.demo.history import generate

    key = template_key()
    path = template_path(key)
    if _instances_in(path) >= TEMPLATE_REQUESTS // 2:
        return path, 0.0
    CACHE.mkdir(parents=True, exist_ok=True)
    for old in CACHE.glob("templates-*.db*"):
        old.unlink()
    t0 = time.perf_counter()
    partial = CACHE / f"templates-{key}.partial.db"
    remove_sqlite(partial)
    db = Database(sqlite_url(partial))
    prepare(db, passwords=False)
    outcome = generate(db, bench_engine(), TEMPLATE_REQUESTS, now=ANCHOR, days=TEMPLATE_DAYS, seed=SEED)
    if outcome.get("running", 0) < TEMPLATE_REQUESTS // 10 or outcome.get("completed", 0) < TEMPLATE_REQUESTS // 10:
        db.dispose()
        raise RuntimeError(f"the demo generator made too few usable requests ({dict(outcome)}): is the engine broken?")
    with db.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    db.dispose()
    partial.rename(path)
    for suffix in ("-wal", "-shm"):
        Path(f"{partial}{suffix}").unlink(missing_ok=True)
    seconds = time.perf_counter() - t0
    log(f"templates: {TEMPLATE_REQUESTS} requests through the engine in {seconds:.1f} s ({dict(outcome)})")
    return path, seconds


def _instances_in(path: Path) -> int:
    if not path.exists():
        return 0
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return conn.execute("SELECT COUNT(*) FROM process_instances").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error:
        return 0


# --- reading templates -----------------------------------------------------------------------------
def _is_utc_datetime(column: Any) -> bool:
    return (
        isinstance(column.type, DateTime)
        or getattr(column.type, "impl", None) is DateTime
        or (isinstance(getattr(column.type, "impl", None), DateTime))
    )


def _fk_target(column: Any) -> str | None:
    for fk in column.foreign_keys:
        return fk.target_fullname
    return None


def clone_tables() -> list[Table]:
    """process_instances, then every table with an instance_id column that holds instance state."""
    tables = [Base.metadata.tables["process_instances"]]
    for name, table in sorted(Base.metadata.tables.items()):
        if name in NOT_CLONED or name == "process_instances":
            continue
        column = table.columns.get("instance_id")
        if column is not None and _fk_target(column) == "process_instances.id":
            tables.append(table)
    return tables


def _handlers(table: Table, present: list[str]) -> list[tuple[str, str]]:
    """(column, how to clone it) for the columns present in the database, in that order."""
    out = []
    for name in present:
        column = table.columns.get(name)
        kind = "copy"
        if column is None:
            kind = "copy"
        elif _fk_target(column) == "process_instances.id":
            kind = "iid"  # instance_states' primary key too
        elif column.primary_key and isinstance(column.type, Integer):
            kind = "newid"
        elif _fk_target(column) == "users.id":
            kind = "user"
        elif _fk_target(column) == "process_definitions.id":
            kind = "def"
        elif table.name == "instance_states" and name == "state":
            kind = "state"
        elif table.name == "audit_events" and name in ("prev_hash", "hash"):
            kind = "hash"
        elif table.name == "process_instances" and name == "audit_head":
            kind = "head"
        elif table.name == "message_subscriptions" and name == "correlation":
            kind = "corr"
        elif _is_utc_datetime(column):
            kind = "dt"
        elif isinstance(column.type, JSON):
            kind = "text"
        elif _has_python_type(column) and column.type.python_type is str:
            kind = "str"
        out.append((name, kind))
    return out


def _has_python_type(column: Any) -> bool:
    try:
        column.type.python_type  # noqa: B018
        return True
    except NotImplementedError:
        return False


@dataclass
class Template:
    """One real instance and every row it owns, ready to be cloned."""

    iid: int
    status: str
    created: datetime
    updated: datetime
    open_tasks: int
    row: tuple
    state: Any  # compiled tokenised state text (see _tokenise, _compile)
    children: dict[str, list[tuple]] = field(default_factory=dict)
    audit: list[dict] = field(default_factory=list)
    text_re: re.Pattern | None = None
    corr_values: set[str] = field(default_factory=set)
    texts: dict[str, tuple] = field(default_factory=dict)  # tokenised JSON texts of the rows, by value


@dataclass
class TemplateSet:
    tables: list[Table]
    columns: dict[str, list[tuple[str, str]]]
    templates: list[Template]
    users: dict[int, str]
    definitions: dict[int, tuple[str, int]]


def _token_re(iid: int, corr_values: set[str]) -> re.Pattern:
    corr = "|".join(re.escape(json.dumps(v)) for v in sorted(corr_values, key=len, reverse=True))
    parts = [
        f"(?P<uuid>{UUID_HEAD})",
        rf'(?P<iid>"instance_id":\s*{iid}(?![0-9]))',
        rf'(?P<inst>"instance":\s*{iid}(?![0-9]))',
        f"(?P<iso>{ISO_RE})",
    ]
    if corr:
        parts.append(f"(?P<corr>{corr})")
    return re.compile("|".join(parts))


def _tokenise(textvalue: str, pattern: re.Pattern) -> tuple[list[str], list[tuple[str, Any]]]:
    """Split a template text at every part a clone changes: (literals, tokens), len(literals) = tokens + 1."""
    literals, tokens, last = [], [], 0
    for m in pattern.finditer(textvalue):
        literals.append(textvalue[last : m.start()])
        kind = m.lastgroup
        value: Any = m.group(0)
        if kind == "iso":
            value = datetime.fromisoformat(m.group(0)[1:-1].replace("Z", "+00:00"))
        elif kind == "corr":
            value = json.loads(value)
        tokens.append((kind, value))
        last = m.end()
    literals.append(textvalue[last:])
    return literals, tokens


def load_templates(path: Path) -> TemplateSet:
    """Every template instance of the template database, with its rows, tokenised for cloning."""
    if not path.exists():
        raise FileNotFoundError(path)
    conn = sqlite3.connect(path)
    tables = clone_tables()
    columns: dict[str, list[tuple[str, str]]] = {}
    raw: dict[str, list[tuple]] = {}
    for table in tables:
        present = [r[1] for r in conn.execute(f'PRAGMA table_info("{table.name}")')]
        columns[table.name] = _handlers(table, present)
        order = "seq" if table.name == "audit_events" else "rowid"
        group = "instance_id, " if table.name != "process_instances" else ""
        raw[table.name] = conn.execute(f'SELECT * FROM "{table.name}" ORDER BY {group}{order}').fetchall()
        names = [c for c, _ in columns[table.name]]
        if names != present:
            raise RuntimeError(f"column order of {table.name} changed")
    users = dict(conn.execute("SELECT id, username FROM users"))
    definitions = {i: (k, v) for i, k, v in conn.execute("SELECT id, key, version FROM process_definitions")}
    conn.close()

    inst_cols = [c for c, _ in columns["process_instances"]]
    by_instance: dict[str, dict[int, list[tuple]]] = {}
    for table in tables[1:]:
        idx = [c for c, _ in columns[table.name]].index("instance_id")
        grouped: dict[int, list[tuple]] = defaultdict(list)
        for row in raw[table.name]:
            grouped[row[idx]].append(row)
        by_instance[table.name] = grouped
    templates = []
    for row in raw["process_instances"]:
        rec = dict(zip(inst_cols, row, strict=True))
        iid = rec["id"]
        corr_values: set[str] = set()
        for sub in by_instance.get("message_subscriptions", {}).get(iid, []):
            sub_rec = dict(zip([c for c, _ in columns["message_subscriptions"]], sub, strict=True))
            for value in json.loads(sub_rec["correlation"]).values():
                if isinstance(value, str) and len(value) >= 4:
                    corr_values.add(value)
        [state_row] = by_instance["instance_states"][iid]
        state_text = decompress(state_row[[c for c, _ in columns["instance_states"]].index("state")])
        for group in (json.loads(state_text).get("correlations") or {}).values():
            for value in (group or {}).values():
                if isinstance(value, str) and len(value) >= 4:
                    corr_values.add(value)
        pattern = _token_re(iid, corr_values)
        tasks = by_instance.get("tasks", {}).get(iid, [])
        status_idx = [c for c, _ in columns["tasks"]].index("status") if tasks else None
        open_tasks = sum(1 for t in tasks if t[status_idx] == "ready") if tasks else 0
        template = Template(
            iid=iid,
            status=rec["status"],
            created=datetime.fromisoformat(rec["created_at"]).replace(tzinfo=UTC),
            updated=datetime.fromisoformat(rec["updated_at"]).replace(tzinfo=UTC),
            open_tasks=open_tasks,
            row=row,
            state=_compile(*_tokenise(state_text, pattern)),
            children={t.name: by_instance[t.name].get(iid, []) for t in tables[1:]},
            text_re=pattern,
            corr_values=corr_values,
        )
        if "audit_events" in template.children:
            names = [c for c, _ in columns["audit_events"]]
            for ev in template.children["audit_events"]:
                e = dict(zip(names, ev, strict=True))
                template.audit.append(
                    {
                        **e,
                        "at_dt": datetime.fromisoformat(e["at"]).replace(tzinfo=UTC),
                        "details_obj": json.loads(e["details"] or "{}"),
                    }
                )
        templates.append(template)
    return TemplateSet(tables, columns, templates, users, definitions)


# --- cloning --------------------------------------------------------------------------------------
@lru_cache(maxsize=200_000)
def _parse_dt(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _compile(literals: list[str], tokens: list[tuple[str, Any]]) -> list[tuple[list[str], tuple | None]]:
    """Group a tokenised text into runs of literals separated by UUID heads (joined with the clone's prefix),
    each followed by one other token (or None at the end)."""
    groups: list[tuple[list[str], tuple | None]] = []
    current = [literals[0]]
    for token, literal in zip(tokens, literals[1:], strict=True):
        if token[0] == "uuid":
            current.append(literal)
        else:
            groups.append((current, token))
            current = [literal]
    groups.append((current, None))
    return groups


def _render(
    groups: list[tuple[list[str], tuple | None]], prefix: str, new_iid: int, delta: timedelta, suffix: str
) -> str:
    """A compiled template text for one clone."""
    parts = []
    for pieces, token in groups:
        parts.append(prefix.join(pieces))
        if token is None:
            continue
        kind, value = token
        if kind == "iid":
            parts.append(f'"instance_id": {new_iid}')
        elif kind == "inst":
            parts.append(f'"instance": {new_iid}')
        elif kind == "iso":
            parts.append(json.dumps((value + delta).isoformat()))
        else:
            parts.append(json.dumps(value + suffix))
    return "".join(parts)


@dataclass
class Plan:
    """Which template each new instance copies, and by how much its times move."""

    entries: list[tuple[int, float]]  # (template index, shift in seconds), in new id order
    running: int
    open_tasks: int


def _apportion(total: int, n: int, rng: random.Random) -> list[int]:
    base, extra = divmod(total, n)
    counts = [base + (1 if i < extra else 0) for i in range(n)]
    rng.shuffle(counts)
    return counts


def plan(templates: list[Template], size: int, seed: int = SEED) -> Plan:
    """N clones: running templates copied so open tasks come to about N/2, finished ones fill the rest."""
    rng = random.Random(seed * 1_000_003 + size)
    running = [i for i, t in enumerate(templates) if t.status == "running"]
    finished = [i for i, t in enumerate(templates) if t.status != "running"]
    open_per_running = sum(templates[i].open_tasks for i in running) / max(len(running), 1)
    running_total = min(size, round(size / 2 / max(open_per_running, 0.01))) if running else 0
    if not finished:
        running_total = size
    counts = dict(zip(running, _apportion(running_total, len(running), rng), strict=True)) if running else {}
    if finished:
        counts.update(zip(finished, _apportion(size - running_total, len(finished), rng), strict=True))
    entries = []
    last_open = ANCHOR.timestamp()
    for index, count in counts.items():
        template = templates[index]
        for _ in range(count):
            if template.status == "running":
                # its last action lands in the week before ANCHOR: about half the open tasks are overdue
                shift = last_open - rng.uniform(0, RUNNING_SPREAD.total_seconds()) - template.updated.timestamp()
            else:
                shift = -rng.uniform(0, HISTORY_SPREAD.total_seconds())
            entries.append((template.created.timestamp() + shift, index, shift))
    entries.sort()
    return Plan(
        [(index, shift) for _, index, shift in entries],
        running_total,
        sum(templates[i].open_tasks * n for i, n in counts.items()),
    )


class Cloner:
    """Turns (template, new instance id, time shift) into rows for every cloned table."""

    def __init__(self, tset: TemplateSet, users: dict[str, int], definitions: dict[tuple[str, int], int]):
        self.tset = tset
        self.user_map = {old: users[name] for old, name in tset.users.items() if name in users}
        self.def_map = {old: definitions[kv] for old, kv in tset.definitions.items()}
        self.next_id: dict[str, int] = defaultdict(int)
        self.columns = tset.columns

    def rows(self, template: Template, new_iid: int, shift: float) -> dict[str, list[tuple]]:
        prefix = f"{new_iid:08x}"
        delta = timedelta(seconds=shift)
        suffix = f"-c{new_iid}"
        out: dict[str, list[tuple]] = {}
        user_map, def_map = self.user_map, self.def_map

        def map_text(value: str | None) -> str | None:
            if value is None:
                return None
            groups = template.texts.get(value)
            if groups is None:
                groups = template.texts[value] = _compile(*_tokenise(value, template.text_re))
            if len(groups) == 1 and len(groups[0][0]) == 1:
                return value
            return _render(groups, prefix, new_iid, delta, suffix)

        def cell(kind: str, value: Any) -> Any:
            if value is None:
                return None
            if kind == "iid":
                return new_iid
            if kind == "user":
                return user_map.get(value)
            if kind == "def":
                return def_map[value]
            if kind == "dt":
                return (_parse_dt(value) + delta).isoformat(sep=" ", timespec="microseconds")
            if kind == "str":
                return prefix + value[8:] if len(value) == 36 and UUID_FULL.fullmatch(value) else value
            if kind in ("text", "corr"):
                return map_text(value)
            return value

        for table in self.tset.tables[1:]:
            name = table.name
            if name == "audit_events":
                continue
            cols = self.columns[name]
            rows = []
            for row in template.children[name]:
                new: list[Any] = []
                for (_, kind), value in zip(cols, row, strict=True):
                    if kind == "newid":
                        self.next_id[name] += 1
                        new.append(self.next_id[name])
                    elif kind == "state":
                        new.append(compress(_render(template.state, prefix, new_iid, delta, suffix)))
                    else:
                        new.append(cell(kind, value))
                rows.append(tuple(new))
            out[name] = rows
        head = ""
        if "audit_events" in template.children:
            head, out["audit_events"] = self._audit(template, new_iid, delta, prefix, map_text)
        cols = self.columns["process_instances"]
        new = []
        for (_, kind), value in zip(cols, template.row, strict=True):
            if kind == "newid":
                new.append(new_iid)
            elif kind == "head":
                new.append(head)
            else:
                new.append(cell(kind, value))
        out["process_instances"] = [tuple(new)]
        return out

    def _audit(self, template: Template, new_iid: int, delta: timedelta, prefix: str, map_text: Any) -> tuple:
        cols = self.columns["audit_events"]
        prev = audit_mod.GENESIS
        rows = []
        for ev in template.audit:
            at = ev["at_dt"] + delta
            task_id = ev["task_id"]
            if task_id and len(task_id) == 36:
                task_id = prefix + task_id[8:]
            details_text = map_text(ev["details"]) if ev["details"] is not None else None
            details = ev["details_obj"] if details_text == ev["details"] else json.loads(details_text or "{}")
            digest = audit_mod._event_hash(
                prev,
                new_iid,
                ev["seq"],
                at,
                ev["actor"],
                ev["action"],
                task_id,
                ev["element_id"],
                ev["element_name"],
                details,
            )
            self.next_id["audit_events"] += 1
            values = {
                **ev,
                "id": self.next_id["audit_events"],
                "instance_id": new_iid,
                "at": at.isoformat(sep=" ", timespec="microseconds")[:26],
                "task_id": task_id,
                "details": details_text,
                "prev_hash": prev,
                "hash": digest,
            }
            rows.append(tuple(values[c] for c, _ in cols))
            prev = digest
        return (prev if rows else ""), rows


# --- sinks ----------------------------------------------------------------------------------------
class SqliteSink:
    def __init__(self, path: Path):
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.execute("PRAGMA synchronous=OFF")
        self.conn.execute("PRAGMA foreign_keys=OFF")
        self.conn.execute("PRAGMA cache_size=-200000")

    def write(self, table: str, columns: list[str], rows: list[tuple]) -> None:
        if rows:
            cols = ", ".join(f'"{c}"' for c in columns)
            marks = ", ".join("?" * len(columns))
            self.conn.executemany(f'INSERT INTO "{table}" ({cols}) VALUES ({marks})', rows)

    def begin(self) -> None:
        self.conn.execute("BEGIN")

    def commit(self) -> None:
        self.conn.execute("COMMIT")

    def finish(self, tables: list[str]) -> None:
        self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.conn.close()


class PostgresSink:
    def __init__(self, url: str):
        self.engine = create_engine(url)
        self.raw = self.engine.raw_connection()
        self.conn = self.raw.driver_connection

    def write(self, table: str, columns: list[str], rows: list[tuple]) -> None:
        if not rows:
            return
        cols = ", ".join(f'"{c}"' for c in columns)
        with self.conn.cursor() as cur, cur.copy(f'COPY "{table}" ({cols}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row(row)

    def begin(self) -> None:
        pass

    def commit(self) -> None:
        self.conn.commit()

    def finish(self, tables: list[str]) -> None:
        with self.conn.cursor() as cur:
            for table in tables:
                cur.execute(
                    f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), COALESCE(MAX(id), 1)) FROM \"{table}\""
                    if _has_serial_id(table)
                    else "SELECT 1"
                )
        self.conn.commit()
        self.conn.autocommit = True
        with self.conn.cursor() as cur:
            for table in tables:
                cur.execute(f'VACUUM (ANALYZE) "{table}"')
        self.raw.close()
        self.engine.dispose()


def _has_serial_id(table: str) -> bool:
    column = Base.metadata.tables[table].columns.get("id")
    return column is not None and column.primary_key and isinstance(column.type, Integer)


def _target_maps(db: Database) -> tuple[dict[str, int], dict[tuple[str, int], int]]:
    with db.reading() as s:
        users = {u: i for i, u in s.execute(select(User.id, User.username))}
        definitions = {
            (k, v): i
            for i, k, v in s.execute(select(ProcessDefinition.id, ProcessDefinition.key, ProcessDefinition.version))
        }
    return users, definitions


CLONE_TIMES: dict[str, float] = {}


def clone_into(db: Database, tset: TemplateSet, entries: list[tuple[int, float]], first_id: int = 1) -> int:
    """Write one clone per (template index, shift) with ids from `first_id`; returns rows written."""
    users, definitions = _target_maps(db)
    cloner = Cloner(tset, users, definitions)
    with db.reading() as s:  # continue after the target's own rows
        for table in tset.tables[1:]:
            if _has_serial_id(table.name):
                cloner.next_id[table.name] = s.scalar(text(f'SELECT COALESCE(MAX(id), 0) FROM "{table.name}"'))
    db.dispose()
    url = db.url
    sink: Any = SqliteSink(Path(url[len("sqlite:///") :])) if db.is_sqlite else PostgresSink(url)
    names = [t.name for t in tset.tables]
    cols = {t: [c for c, _ in tset.columns[t]] for t in names}
    written, generating, writing = 0, 0.0, 0.0
    for start in range(0, len(entries), CHUNK):
        t0 = time.perf_counter()
        batch: dict[str, list[tuple]] = defaultdict(list)
        for offset, (index, shift) in enumerate(entries[start : start + CHUNK]):
            for table, rows in cloner.rows(tset.templates[index], first_id + start + offset, shift).items():
                batch[table].extend(rows)
        t1 = time.perf_counter()
        sink.begin()
        for table in names:
            sink.write(table, cols[table], batch[table])
            written += len(batch[table])
        sink.commit()
        generating, writing = generating + t1 - t0, writing + time.perf_counter() - t1
    t0 = time.perf_counter()
    sink.finish(names)
    CLONE_TIMES.update(
        generate=round(generating, 1), write=round(writing, 1), finish=round(time.perf_counter() - t0, 1)
    )
    return written


# --- the scale data sets --------------------------------------------------------------------------
@dataclass(frozen=True)
class ScaleTarget:
    kind: str
    size: int

    @property
    def name(self) -> str:
        return f"{self.kind}-{self.size}"

    def path(self) -> Path:
        return CACHE / f"scale-{self.size}.db"

    def schema(self) -> str:
        return f"wp_bench_{self.size}" if self.size != 100_000 else "wp_bench"

    def url(self) -> str:
        return sqlite_url(self.path()) if self.kind == "sqlite" else pg_url(self.schema())


def read_meta(target: ScaleTarget) -> dict | None:
    """The cached data set's description, or None when it is missing or unreadable."""
    if target.kind == "sqlite" and not target.path().exists():
        return None
    try:
        engine = create_engine(target.url())
        with engine.connect() as conn:
            value = conn.execute(text("SELECT value FROM bench_meta WHERE key = 'meta'")).scalar()
        engine.dispose()
        return json.loads(value) if value else None
    except Exception:  # noqa: BLE001 - no table, no schema, no file: not built
        return None


def _write_meta(db: Database, meta: dict) -> None:
    with db.engine.begin() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS bench_meta (key VARCHAR(20) PRIMARY KEY, value TEXT)"))
        conn.execute(text("DELETE FROM bench_meta"))
        conn.execute(text("INSERT INTO bench_meta (key, value) VALUES ('meta', :v)"), {"v": json.dumps(meta)})


def build_scale(target: ScaleTarget, key: str, template_db: Path) -> dict:
    """Build one scale data set from the templates, check it, and record its description."""
    t0 = time.perf_counter()
    if target.kind == "sqlite":
        CACHE.mkdir(parents=True, exist_ok=True)
        remove_sqlite(target.path())
    else:
        reset_pg_schema(target.schema())
    db = Database(target.url())
    prepare(db)
    tset = load_templates(template_db)
    the_plan = plan(tset.templates, target.size)
    t1 = time.perf_counter()
    rows = clone_into(db, tset, the_plan.entries)
    t2 = time.perf_counter()
    db = Database(target.url())
    checks = verify(db, tset, the_plan.entries, template_db, sample=12)
    meta = {
        "key": key,
        "size": target.size,
        "instances": checks["instances"],
        "open_tasks": checks["open_tasks"],
        "running": checks["running"],
        "rows": rows,
        "templates": len(tset.templates),
        "anchor": ANCHOR.isoformat(),
        "clone_seconds": round(t2 - t1, 1),
        "clone_parts": dict(CLONE_TIMES),
        "build_seconds": round(time.perf_counter() - t0, 1),
        "checks": checks,
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    _write_meta(db, meta)
    db.dispose()
    return meta


def build_scale_worker(args: tuple[str, int, str, str]) -> dict:
    """Process-pool entry: build one data set (SQLite and PostgreSQL build side by side)."""
    kind, size, key, template_db = args
    return build_scale(ScaleTarget(kind, size), key, Path(template_db))


def ensure_scale(targets: list[ScaleTarget], key: str, rebuild: bool = False) -> tuple[dict[str, dict], float]:
    """Every data set in `targets`, built when missing or stale: ({name: meta}, seconds spent building)."""
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    metas: dict[str, dict] = {}
    missing = []
    for target in targets:
        meta = None if rebuild else read_meta(target)
        if meta is not None and meta.get("key") == key:
            metas[target.name] = meta
        else:
            missing.append(target)
    if not missing:
        return metas, 0.0
    t0 = time.perf_counter()
    template_db, _ = ensure_templates()
    # two lanes (two cores), the costliest builds first, each to the lane with less work so far; PostgreSQL
    # costs about twice as much per instance (COPY, and the server compressing every state into TOAST)
    lanes: list[list[ScaleTarget]] = [[], []]
    loads = [0.0, 0.0]
    for target in sorted(missing, key=lambda t: -_cost(t)):
        lane = loads.index(min(loads))
        lanes[lane].append(target)
        loads[lane] += _cost(target)
    lanes = [lane for lane in lanes if lane]
    with ProcessPoolExecutor(max_workers=len(lanes), mp_context=get_context("spawn")) as pool:
        futures = [pool.submit(_build_lane, [(t.kind, t.size, key, str(template_db)) for t in lane]) for lane in lanes]
        for lane, future in zip(lanes, futures, strict=True):
            for meta, target in zip(future.result(), lane, strict=True):
                metas[target.name] = meta
                log(
                    f"built {target.name}: {meta['instances']:,} instances, {meta['open_tasks']:,} open tasks, "
                    f"{meta['rows']:,} rows cloned in {meta['clone_seconds']} s (total {meta['build_seconds']} s)"
                )
    return metas, time.perf_counter() - t0


def _cost(target: ScaleTarget) -> float:
    return target.size * (1.8 if target.kind == "postgresql" else 1.0) + 5000  # + preparing the database


def _build_lane(jobs: list[tuple[str, int, str, str]]) -> list[dict]:
    return [build_scale_worker(job) for job in jobs]


# --- checks ---------------------------------------------------------------------------------------
def _vault(engine: Engine) -> dict[str, Any]:
    vault = getattr(engine, "vault", None)
    return {"vault": vault} if vault is not None else {}


class _Rollback(Exception):
    """Raised to leave a transaction without a trace."""


def _attempt(db: Database, engine: Engine, iid: int) -> tuple:
    """Complete the first open task of an instance as the autopilot would, then roll back: what happened."""
    from engine.demo.autopilot import Autopilot, fill
    from engine.errors import ValidationFailed

    pilot = Autopilot(engine, random.Random(iid), refuse_rate=0.0, sendback_rate=0.0)
    try:
        with db.transaction() as s:
            row = s.scalars(
                select(TaskRecord)
                .where(TaskRecord.instance_id == iid, TaskRecord.status == "ready")
                .order_by(TaskRecord.created_at, TaskRecord.element_id)
                .limit(1)
            ).first()
            user = pilot.worker_for(s, row)
            schema = engine.definition_for(s, row.instance).form(row.form) or {}
            data = fill(schema, pilot.rng, ANCHOR.date(), refuse_rate=0.0, sendback_rate=0.0, everything=True)
            try:
                engine.complete(s, row.id, user.username, data)
            except ValidationFailed as exc:
                return ("refused", row.element_id, tuple(sorted(path for path, _ in exc.errors)))
            following = s.scalars(
                select(TaskRecord.element_id).where(TaskRecord.instance_id == iid, TaskRecord.status == "ready")
            )
            result = ("completed", row.element_id, tuple(sorted(following)))
            raise _Rollback
    except _Rollback:
        return result
    except WaypointError as exc:
        return ("error", type(exc).__name__, str(exc)[:200])


def verify(
    db: Database,
    tset: TemplateSet | None,
    entries: list | None = None,
    template_db: Path | None = None,
    sample: int = 12,
    seed: int = SEED,
) -> dict:
    """Counts, audit chains, and sampled clones loaded and completed through the engine (rolled back)."""
    from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
    from SpiffWorkflow.util.task import TaskState

    from engine.serialization import load
    from engine.taskindex import BPMN_TIMER

    rng = random.Random(seed)
    engine = bench_engine(clock=ManualClock(ANCHOR))
    out: dict[str, Any] = {}
    with db.reading() as s:
        out["instances"] = s.scalar(select(func.count()).select_from(ProcessInstance))
        out["running"] = s.scalar(select(func.count()).where(ProcessInstance.status == "running"))
        out["open_tasks"] = s.scalar(select(func.count()).where(TaskRecord.status == "ready"))
        out["bpmn_timers"] = s.scalar(select(func.count()).where(Timer.kind == BPMN_TIMER))
        out["timers"] = s.scalar(select(func.count()).select_from(Timer))
        ids = list(s.scalars(select(ProcessInstance.id)))
        breaks = 0
        chosen = rng.sample(ids, min(len(ids), sample * 4))
        for iid in chosen:
            breaks += len(audit_mod.verify(s, s.get(ProcessInstance, iid)))
        out["audit_chains_checked"], out["audit_breaks"] = len(chosen), breaks
        running_with_tasks = list(
            s.scalars(select(TaskRecord.instance_id).where(TaskRecord.status == "ready").distinct())
        )
        with_timers = list(s.scalars(select(Timer.instance_id).where(Timer.kind == BPMN_TIMER).distinct()))
        finished = list(s.scalars(select(ProcessInstance.id).where(ProcessInstance.status == "completed")))
    # timers inside the state agree with the timers table; finished clones load as finished
    mismatched = 0
    with db.reading() as s:
        for iid in rng.sample(with_timers, min(len(with_timers), sample)):
            instance = s.get(ProcessInstance, iid)
            wf = load(instance.state, engine.definition_for(s, instance), engine.script_engine, **_vault(engine))
            table = {
                t.task_id: t.due_at
                for t in s.scalars(select(Timer).where(Timer.instance_id == iid, Timer.kind == BPMN_TIMER))
            }
            for task in wf.get_tasks(state=TaskState.WAITING):
                if isinstance(getattr(task.task_spec, "event_definition", None), TimerEventDefinition):
                    value = task.internal_data.get("event_value")
                    if isinstance(value, str) and str(task.id) in table:
                        mismatched += abs((datetime.fromisoformat(value) - table[str(task.id)]).total_seconds()) > 1
        not_completed = 0
        for iid in rng.sample(finished, min(len(finished), sample)):
            instance = s.get(ProcessInstance, iid)
            wf = load(instance.state, engine.definition_for(s, instance), engine.script_engine, **_vault(engine))
            not_completed += not wf.completed
    out["timers_checked"], out["timer_mismatches"] = min(len(with_timers), sample), mismatched
    out["finished_loaded"], out["finished_not_completed"] = min(len(finished), sample), not_completed
    # sampled running clones: the open task completed through the engine (rolled back), with the same
    # outcome as on the template it was cloned from (completed, or refused by the same business rule)
    same, completed, differences = 0, 0, []
    origin_db = Database(sqlite_url(template_db)) if tset is not None and entries and template_db else None
    for iid in rng.sample(running_with_tasks, min(len(running_with_tasks), sample)):
        outcome = _attempt(db, engine, iid)
        if outcome[0] == "error":
            differences.append(f"#{iid} {outcome}")
            continue
        if origin_db is not None:
            origin = tset.templates[entries[iid - 1][0]].iid
            expected = _attempt(origin_db, engine, origin)
            if outcome != expected:
                differences.append(f"#{iid} {outcome} vs template #{origin} {expected}")
                continue
        same += 1
        completed += outcome[0] == "completed"
    if origin_db is not None:
        origin_db.dispose()
    out["clones_acted_on"], out["completed_through_engine"] = same, completed
    out["differences"] = differences[:5]
    problems = []
    if breaks:
        problems.append(f"{breaks} audit chain break(s)")
    if mismatched:
        problems.append(f"{mismatched} timer(s) differ between state and table")
    if not_completed:
        problems.append(f"{not_completed} finished clone(s) load unfinished")
    if differences:
        problems.append(f"{len(differences)} clone(s) failed or acted unlike their template: {differences[:2]}")
    if running_with_tasks and not completed:
        problems.append("no sampled clone could be completed")
    if out["instances"] != (len(entries) if entries is not None else out["instances"]):
        problems.append(f"{out['instances']} instances instead of {len(entries)}")
    out["ok"] = not problems
    out["problems"] = problems
    if problems:
        raise RuntimeError("the cloned data set is inconsistent: " + "; ".join(problems))
    return out


# --- flow templates: the three processes at their mid-flow task, and a conference just started ------
@dataclass
class FlowTemplates:
    """Real instances to clone into the work database (throughput pools, timers to fire)."""

    tset: TemplateSet
    mid: dict[str, tuple[int, str, str]]  # process key -> (template index, mid task id, who completes it)
    fresh_conference: int  # template index of a conference waiting at supervisor review (P5D timer armed)


def ensure_flow_templates() -> FlowTemplates:
    """Drive one instance of each process to its mid-flow task (and start one conference), cached."""
    from .flows import PROCESSES, drive_to_mid, load_flows

    path = CACHE / f"flows-{template_key()}.db"
    info_path = path.with_suffix(".json")
    if not (_instances_in(path) >= len(PROCESSES) + 1 and info_path.exists()):
        CACHE.mkdir(parents=True, exist_ok=True)
        for old in CACHE.glob("flows-*"):
            old.unlink()
        db = Database(sqlite_url(path))
        engine = prepare(db, passwords=False)
        flows = load_flows()
        info: dict[str, Any] = {"mid": {}}
        for key in PROCESSES:
            flow = flows[key]
            with db.transaction() as s:
                iid = engine.start(s, key, flow.start_data, flow.starter).id
                task_id, user = drive_to_mid(s, engine, flow, iid)
            info["mid"][key] = (iid, task_id, user)
        flow = flows["conference_attendance"]
        with db.transaction() as s:
            info["fresh_conference"] = engine.start(s, flow.key, flow.start_data, flow.starter).id
        with db.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        db.dispose()
        info_path.write_text(json.dumps(info))
    info = json.loads(info_path.read_text())
    tset = load_templates(path)
    index = {t.iid: i for i, t in enumerate(tset.templates)}
    mid = {key: (index[iid], task_id, user) for key, (iid, task_id, user) in info["mid"].items()}
    return FlowTemplates(tset, mid, index[info["fresh_conference"]])


def next_instance_id(db: Database) -> int:
    with db.reading() as s:
        return (s.scalar(select(func.max(ProcessInstance.id))) or 0) + 1


def clone_task_id(task_id: str, new_iid: int) -> str:
    """The id a template's task gets in clone `new_iid` (see Cloner)."""
    return f"{new_iid:08x}{task_id[8:]}"
