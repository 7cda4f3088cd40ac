"""Database triggers that make a table append-only, on SQLite and on PostgreSQL.

Used by the migrations of every ledger table (audit events, custody events). The same functions let
tests drop the triggers to prove that the hash-chain verification catches an edit made behind them.
"""

from __future__ import annotations

from django.db.backends.base.base import BaseDatabaseWrapper

MESSAGE = "{table} is append-only: UPDATE and DELETE are not allowed"


def _statements(vendor: str, table: str) -> tuple[list[str], list[str]]:
    message = MESSAGE.format(table=table)
    if vendor == "sqlite":
        create = [
            f"CREATE TRIGGER {table}_no_{op.lower()} BEFORE {op} ON {table} BEGIN SELECT RAISE(ABORT, '{message}'); END"
            for op in ("UPDATE", "DELETE")
        ]
        drop = [f"DROP TRIGGER IF EXISTS {table}_no_{op}" for op in ("update", "delete")]
        return create, drop
    if vendor == "postgresql":
        function = f"{table}_append_only"
        create = [
            f"CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN RAISE EXCEPTION '{message}' USING ERRCODE = 'insufficient_privilege'; END $$",
            f"CREATE TRIGGER {table}_no_change BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {function}()",
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
        ]
        drop = [
            f"DROP TRIGGER IF EXISTS {table}_no_change ON {table}",
            f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}",
            f"DROP FUNCTION IF EXISTS {function}()",
        ]
        return create, drop
    raise ValueError(f"Forensis supports SQLite and PostgreSQL, not {vendor}")


def install(connection: BaseDatabaseWrapper, table: str) -> None:
    create, _drop = _statements(connection.vendor, table)
    with connection.cursor() as cursor:
        for sql in create:
            cursor.execute(sql)


def remove(connection: BaseDatabaseWrapper, table: str) -> None:
    _create, drop = _statements(connection.vendor, table)
    with connection.cursor() as cursor:
        for sql in drop:
            cursor.execute(sql)


#: Every append-only table. Their triggers are (re)installed after each ``migrate``: on SQLite a migration
#: that alters such a table rebuilds it and silently loses its triggers.
LEDGER_TABLES = ("audit_auditevent", "evidence_custodyevent", "reports_reportversion")


def reinstall_after_migrate(sender, using="default", **kwargs) -> None:
    """post_migrate receiver (connected once, for the core app): make sure every ledger table is protected."""
    from django.db import connections

    connection = connections[using]
    existing = set(connection.introspection.table_names())
    for table in LEDGER_TABLES:
        if table in existing:
            remove(connection, table)
            install(connection, table)


def migration_operations(table: str):
    """RunPython operation for a migration: install on apply, remove on reverse."""
    from django.db import migrations

    return migrations.RunPython(
        lambda apps, schema_editor: install(schema_editor.connection, table),
        lambda apps, schema_editor: remove(schema_editor.connection, table),
    )
