"""Figure 6: bytes stored per instance, and the process spec stored once per version.

Per process, over finished instances of the large data set: the workflow state (its own table,
zlib-compressed), the instance row (data snapshot, summary, bookkeeping), its task-index rows, audit
events, timers and subscriptions (SQLite: bytes of every value; PostgreSQL: `pg_column_size`, as
TOAST stores it). Then each table's total size with its indexes (SQLite `dbstat`,
PostgreSQL `pg_total_relation_size`) divided by the number of instances.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, select, text

from engine import Database
from engine.models import DefinitionFile, InstanceState, ProcessDefinition, ProcessInstance
from engine.models.states import decompress

from .common import bench_engine
from .data import clone_tables
from .flows import PROCESSES

SAMPLE = 300


def _row_bytes(db: Database, table: str, columns: list[str], alias: str = "t") -> str:
    if db.is_sqlite:
        return " + ".join(f'IFNULL(LENGTH(CAST({alias}."{c}" AS BLOB)), 0)' for c in columns)
    return f"pg_column_size({alias}.*)"


def per_process(db: Database) -> dict[str, dict[str, Any]]:
    """Average bytes per finished instance of each process, by part."""
    tables = clone_tables()
    with db.engine.connect() as conn:
        present = {t.name: _columns(conn, db, t.name) for t in tables}
        out = {}
        for key in PROCESSES:
            ids = [
                r[0]
                for r in conn.execute(
                    text(
                        "SELECT id FROM process_instances WHERE process_key = :k AND status = 'completed' "
                        "ORDER BY id LIMIT :n"
                    ),
                    {"k": key, "n": SAMPLE},
                )
            ]
            if not ids:
                continue
            id_list = ", ".join(str(i) for i in ids)
            n = len(ids)
            row = conn.execute(
                text(
                    f"SELECT SUM({_row_bytes(db, 'process_instances', present['process_instances'])}) "
                    f"FROM process_instances t WHERE id IN ({id_list})"
                )
            ).scalar()
            parts = {"state": 0.0, "instance row": (row or 0) / n}
            for table in tables[1:]:
                total = conn.execute(
                    text(
                        f'SELECT SUM({_row_bytes(db, table.name, present[table.name])}) FROM "{table.name}" t '
                        f"WHERE instance_id IN ({id_list})"
                    )
                ).scalar()
                parts["state" if table.name == "instance_states" else table.name] = (total or 0) / n
            out[key] = {name: round(v) for name, v in parts.items()}
            out[key]["total"] = round(sum(parts.values()))
            out[key]["sampled"] = n
    return out


def _columns(conn: Any, db: Database, table: str) -> list[str]:
    if db.is_sqlite:
        return [r[1] for r in conn.exec_driver_sql(f'PRAGMA table_info("{table}")')]
    return [
        r[0]
        for r in conn.execute(
            text(
                "SELECT column_name FROM information_schema.columns WHERE table_name = :t "
                "AND table_schema = current_schema() ORDER BY ordinal_position"
            ),
            {"t": table},
        )
    ]


def table_sizes(db: Database) -> dict[str, Any]:
    """Every table's size with its indexes, and per instance."""
    with db.engine.connect() as conn:
        instances = conn.execute(select(func.count()).select_from(ProcessInstance)).scalar() or 1
        if db.is_sqlite:
            owner = dict(
                conn.exec_driver_sql("SELECT name, tbl_name FROM sqlite_master WHERE type IN ('table', 'index')").all()
            )
            sizes: dict[str, int] = {}
            try:
                rows = conn.exec_driver_sql("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name").all()
            except Exception:  # noqa: BLE001 - SQLite built without dbstat
                rows = []
            for name, size in rows:
                table = owner.get(name, name)
                sizes[table] = sizes.get(table, 0) + int(size)
            page = conn.exec_driver_sql("PRAGMA page_size").scalar()
            pages = conn.exec_driver_sql("PRAGMA page_count").scalar()
            total = page * pages
        else:
            rows = conn.execute(
                text(
                    "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c JOIN pg_namespace n "
                    "ON n.oid = c.relnamespace WHERE n.nspname = current_schema() AND c.relkind = 'r'"
                )
            ).all()
            sizes = {name: int(size) for name, size in rows}
            total = sum(sizes.values())
    big = {k: v for k, v in sorted(sizes.items(), key=lambda kv: -kv[1]) if v >= 64 * 1024}
    return {
        "instances": instances,
        "total_bytes": total,
        "per_instance": round(total / instances),
        "tables_per_instance": {k: round(v / instances) for k, v in big.items()},
    }


def spec_once(db: Database) -> dict[str, Any]:
    """Specs live in process_definitions (one row per version); stored states hold none."""
    from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
    from SpiffWorkflow.spiff.serializer import DEFAULT_CONFIG

    registry = BpmnWorkflowSerializer.configure(DEFAULT_CONFIG)
    engine = bench_engine()
    out: dict[str, Any] = {"versions": {}, "states_with_spec": 0, "states_checked": 0}
    with db.reading() as s:
        for definition in s.scalars(select(ProcessDefinition).where(ProcessDefinition.key.in_(PROCESSES))):
            files = s.scalar(
                select(func.sum(func.length(DefinitionFile.content))).where(
                    DefinitionFile.definition_id == definition.id
                )
            )
            parsed = engine.specs.get(s, definition)
            spec_json = len(json.dumps(registry.convert(parsed.spec))) + sum(
                len(json.dumps(registry.convert(v))) for v in parsed.subprocess_specs.values()
            )
            out["versions"][f"{definition.key} v{definition.version}"] = {
                "definition_files_bytes": int(files or 0),
                "stock_spec_json_bytes": spec_json,
            }
        for state in s.scalars(select(InstanceState.state).order_by(InstanceState.instance_id).limit(200)):
            document = json.loads(decompress(state))
            out["states_checked"] += 1
            out["states_with_spec"] += bool({"spec", "subprocess_specs"} & set(document))
    out["pass"] = out["states_checked"] > 0 and out["states_with_spec"] == 0
    return out


def measure(db: Database) -> dict[str, Any]:
    return {"per_process": per_process(db), "tables": table_sizes(db), "spec": spec_once(db)}
