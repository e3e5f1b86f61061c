"""A journal file created by its open skips the damage check and the migration query and
creates its tables in one transaction: the same tables, columns and keys as SCHEMA run
statement by statement, and the file then opens (and passes the check) as any journal."""

import duckdb
from tradewind.journal.store import SCHEMA, DuckDBBackend

_COLUMNS = (
    "SELECT table_name, column_index, column_name, data_type, is_nullable FROM duckdb_columns() "
    "WHERE schema_name = 'main' ORDER BY table_name, column_index"
)
_KEYS = (
    "SELECT table_name, constraint_type, constraint_column_names FROM duckdb_constraints() "
    "WHERE schema_name = 'main' ORDER BY table_name, constraint_type, constraint_text"
)


def _layout(con):
    return con.execute(_COLUMNS).fetchall(), con.execute(_KEYS).fetchall()


def test_fresh_journal_has_the_schema_and_opens_again(tmp_path):
    path = tmp_path / "journal.duckdb"
    fresh = DuckDBBackend(path, read_only=False)
    got = _layout(fresh.con)
    fresh.con.close()
    ref = duckdb.connect()
    for statement in SCHEMA.split(";"):
        if statement.strip():
            ref.execute(statement)
    assert got == _layout(ref)
    assert got[0] and got[1]
    again = DuckDBBackend(path, read_only=False)  # an existing file: migration and check
    assert _layout(again.con) == got
    again.con.close()
