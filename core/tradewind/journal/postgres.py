"""The journal on a PostgreSQL server: ``[journal] url = "postgresql://user@host/db"``.

The same tables as the DuckDB journal (:data:`tradewind.journal.store._COLUMNS`), created by
versioned migrations (table ``tradewind_migrations``), with every append-only table that has
a time column (``events``, ``signals``, ``order_events``, ...) partitioned by month of
``ts_ns``: a TimescaleDB hypertable when the database has the extension, else PostgreSQL's
native range partitioning, one partition per month created as rows arrive. ``fills`` (its
primary key is the de-duplication key), ``orders`` (rewritten as their state changes) and
``runs`` are plain tables.

Differences a reader of the tables sees: JSON columns are ``text`` (cast with ``::jsonb``),
``DOUBLE`` is ``double precision``. Decimals are text on both backends.

Crash safety: every write-ahead step is one transaction committed with the server's default
``synchronous_commit = on`` (the commit returns once the WAL is flushed to disk), so a killed
host loses no fill it acted on, exactly as with DuckDB. One host per journal: the writer holds
a session advisory lock for as long as it is connected (the server releases it when the
host's connection ends, a ``kill -9`` included).

The password never appears in the URL the journal shows (:func:`redact`), nor in its errors:
it comes from ``[journal] password = "env:NAME"`` and is handed to libpq separately.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pyarrow as pa

from tradewind.errors import JournalError

SCHEMES = ("postgresql://", "postgres://")

#: The advisory lock a writing host holds on its journal database (any 64-bit constant).
LOCK_KEY = 0x7477_6A6F_7572_6E6C  # "twjournl"

#: DuckDB column types as PostgreSQL spells them.
_TYPES = {"JSON": "text", "DOUBLE": "double precision"}


def is_url(target: object) -> bool:
    """True when ``target`` names a PostgreSQL journal rather than a DuckDB file."""
    return isinstance(target, str) and target.startswith(SCHEMES)


def redact(url: str) -> str:
    """``url`` without a password written into it (``user:***@host``)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    netloc = f"{parts.username}:***@{host}" if parts.username else f"***@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def pg_type(duck_type: str) -> str:
    """The PostgreSQL type of a journal column type (``VARCHAR PRIMARY KEY`` included)."""
    head, _, rest = duck_type.partition(" ")
    return (_TYPES.get(head, head) + (" " + rest if rest else "")).strip()


def translate_ddl(sql: str) -> str:
    """DuckDB DDL (the outbox's, the control log's, the watchlist's) for PostgreSQL."""
    sql = re.sub(r"\bJSON\b", "text", sql)
    return re.sub(r"\bDOUBLE\b(?!\s+PRECISION)", "double precision", sql)


def placeholders(sql: str) -> str:
    """DuckDB's ``?`` placeholders as psycopg's ``%s`` (a literal ``%`` doubled), outside
    quoted strings; ``INSERT OR IGNORE`` as ``ON CONFLICT DO NOTHING``."""
    out: list[str] = []
    quoted = False
    for ch in sql:
        if ch == "'":
            quoted = not quoted
            out.append(ch)
        elif quoted:
            out.append("%%" if ch == "%" else ch)
        elif ch == "?":
            out.append("%s")
        elif ch == "%":
            out.append("%%")
        else:
            out.append(ch)
    return _or_ignore("".join(out))


def _or_ignore(sql: str) -> str:
    m = re.match(r"\s*INSERT\s+OR\s+IGNORE\s+INTO\s", sql, re.IGNORECASE)
    if m is None:
        return sql
    return "INSERT INTO " + sql[m.end() :].rstrip().rstrip(";") + " ON CONFLICT DO NOTHING"


class _Result:
    """What ``execute`` returns: rows to fetch (none for a statement without a result)."""

    def __init__(self, cur: Any) -> None:
        self._cur = cur

    def fetchall(self) -> list[tuple[Any, ...]]:
        if self._cur.description is None:
            return []
        return list(self._cur.fetchall())

    def fetchone(self) -> tuple[Any, ...] | None:
        if self._cur.description is None:
            return None
        row = self._cur.fetchone()
        return None if row is None else tuple(row)


class PgConnection:
    """A psycopg connection that speaks the SQL the journal's users write for DuckDB.

    ``execute(sql, params)`` with ``?`` placeholders returns a result to ``fetchall`` or
    ``fetchone``; ``cursor()`` opens another connection (for another thread);
    ``register(name, arrow_table)`` makes an Arrow table readable by name (a temporary
    table, filled by COPY) until ``unregister``. Autocommit: each statement commits unless
    a ``BEGIN TRANSACTION`` is open.
    """

    def __init__(self, connect: Callable[[], Any]) -> None:
        self._connect = connect
        self.raw = connect()

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> _Result:
        cur = self.raw.cursor()
        if params:
            cur.execute(placeholders(sql), list(params))
        else:
            # No parameters: the simple protocol, which also runs several statements.
            if re.search(r"\bCREATE\s+TABLE\b", sql, re.IGNORECASE):
                sql = translate_ddl(sql)
            cur.execute(_or_ignore(sql))
        return _Result(cur)

    def cursor(self) -> PgConnection:
        return PgConnection(self._connect)

    def register(self, name: str, table: pa.Table) -> None:
        cols = ", ".join(f"{f.name} {_arrow_pg(f.type)}" for f in table.schema)
        cur = self.raw.cursor()
        cur.execute(f"CREATE TEMP TABLE {name} ({cols})")
        with cur.copy(f"COPY {name} FROM STDIN") as copy:
            for row in zip(*(c.to_pylist() for c in table.columns), strict=True):
                copy.write_row(row)

    def unregister(self, name: str) -> None:
        self.raw.cursor().execute(f"DROP TABLE IF EXISTS {name}")

    def copy_rows(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        """Write ``rows`` with one COPY (the bulk path of the journal's flush)."""
        cur = self.raw.cursor()
        with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self.raw.cursor().executemany(placeholders(sql), rows)

    def close(self) -> None:
        self.raw.close()


def _arrow_pg(t: pa.DataType) -> str:
    if pa.types.is_integer(t):
        return "bigint"
    if pa.types.is_boolean(t):
        return "boolean"
    if pa.types.is_floating(t):
        return "double precision"
    return "text"


def connect(url: str, password: str | None, *, application: str = "tradewind") -> PgConnection:
    """Connect to the journal's database (autocommit; JSON read back as text)."""
    try:
        import psycopg
    except ImportError:
        raise JournalError(
            f"journal {redact(url)}: the PostgreSQL journal needs psycopg: "
            "pip install 'tradewind[postgres]'"
        ) from None

    def _open() -> Any:
        kwargs: dict[str, Any] = {"autocommit": True, "application_name": application}
        if password is not None:
            kwargs["password"] = password
        return psycopg.connect(url, **kwargs)

    return PgConnection(_open)


def errors() -> tuple[type[BaseException], ...]:
    """The exceptions a PostgreSQL journal's reads and writes raise."""
    import psycopg

    return (psycopg.Error,)


def pg_journal_error(url: str, exc: BaseException, *, doing: str = "open") -> JournalError:
    """A one-line JournalError for a PostgreSQL failure while ``doing`` something."""
    text = " ".join(str(exc).split())
    where = f"journal {redact(url)}"
    low = text.lower()
    if "password authentication failed" in low or "no password supplied" in low:
        return JournalError(
            f"{where}: the server refused the login ({_short(text)}); check the user in the "
            "url and the password in the variable [journal] password names"
        )
    if "does not exist" in low and "database" in low:
        return JournalError(f"{where}: {_short(text)}; create it first (createdb)")
    if "connection refused" in low or "could not connect" in low or "connection failed" in low:
        return JournalError(
            f"{where}: cannot connect to the server ({_short(text)}); is it running and reachable?"
        )
    if "no space left" in low or "could not extend file" in low or "disk full" in low:
        return JournalError(
            f"{where}: the server is out of disk space while trying to {doing} it "
            f"({_short(text)}); free space on the server and start again"
        )
    return JournalError(f"{where}: could not {doing} it: {type(exc).__name__}: {_short(text)}")


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- schema: versioned migrations --------------------------------------------------------
def partitioned_tables(columns: dict[str, tuple[tuple[str, str], ...]]) -> tuple[str, ...]:
    """The append-only tables with a time column, partitioned by month of ``ts_ns``."""
    return tuple(
        t for t, cols in columns.items() if t != "fills" and any(n == "ts_ns" for n, _ in cols)
    )


def _create_tables(con: PgConnection, columns: dict[str, tuple[tuple[str, str], ...]]) -> None:
    parts = partitioned_tables(columns)
    timescale = has_timescale(con)
    for table, cols in columns.items():
        body = ", ".join(f"{name} {pg_type(typ)}" for name, typ in cols)
        if table == "fills":
            body += ", PRIMARY KEY (session_id, client_order_id, fill_key)"
        if table in parts:
            body = body.replace("ts_ns BIGINT", "ts_ns BIGINT NOT NULL")
        tail = " PARTITION BY RANGE (ts_ns)" if table in parts and not timescale else ""
        con.execute(f"CREATE TABLE IF NOT EXISTS {table} ({body}){tail}")
        if table in parts and timescale:
            con.execute(
                "SELECT create_hypertable(?, 'ts_ns', chunk_time_interval => ?, "
                "if_not_exists => TRUE)",
                [table, MONTH_NS],
            )
    con.execute("ALTER TABLE runs ADD COLUMN IF NOT EXISTS session_id VARCHAR")
    con.execute("ALTER TABLE runs ADD COLUMN IF NOT EXISTS run_no INTEGER")
    for table in ("orders", "fills", "events", "signals", "order_events", "positions"):
        if table in columns:
            con.execute(
                f"CREATE INDEX IF NOT EXISTS {table}_session_seq ON {table} "
                f"({'run_id' if table == 'events' else 'session_id'}, seq)"
            )


def _add_pnl_currency(con: PgConnection, columns: dict[str, tuple[tuple[str, str], ...]]) -> None:
    """A journal made before positions carried their P&L currency gains the column, filled
    for the rows whose fills paid fees in the quote currency (the others are filled from
    the instruments when a host next runs their session)."""
    from tradewind.journal.store import BACKFILL_PNL_CURRENCY

    con.execute("ALTER TABLE positions ADD COLUMN IF NOT EXISTS pnl_currency VARCHAR")
    con.execute(BACKFILL_PNL_CURRENCY)


def _index_orders_by_client_id(
    con: PgConnection, columns: dict[str, tuple[tuple[str, str], ...]]
) -> None:
    """Every write of an order's state replaces its row: ``DELETE FROM orders WHERE
    session_id = ? AND client_order_id IN (...)``, then the new rows. With only the
    ``(session_id, seq)`` index that delete read every row of the session, so a live session's
    writes grew dearer with each order it had sent; this index finds the rows by id."""
    con.execute(
        "CREATE INDEX IF NOT EXISTS orders_session_client_order_id "
        "ON orders (session_id, client_order_id)"
    )


#: Average month in nanoseconds (the hypertable chunk interval).
MONTH_NS = 30 * 86_400 * 10**9

#: ``(version, name, apply)``, applied in order, each in its own transaction, once.
Migration = tuple[int, str, Callable[[PgConnection, dict[str, tuple[tuple[str, str], ...]]], None]]
MIGRATIONS: tuple[Migration, ...] = (
    (1, "journal tables, partitioned by month of ts_ns", _create_tables),
    (2, "positions.pnl_currency: the currency of each position's P&L", _add_pnl_currency),
    (3, "orders indexed by session and client order id", _index_orders_by_client_id),
)


def has_timescale(con: PgConnection) -> bool:
    """True when the TimescaleDB extension is created in the journal's database (creating
    it needs a superuser: the database's owner does it, ``CREATE EXTENSION timescaledb``)."""
    row = con.execute("SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'").fetchone()
    return bool(row and row[0])


def migrate(con: PgConnection, columns: dict[str, tuple[tuple[str, str], ...]]) -> list[int]:
    """Apply the migrations the database has not had (serialised across hosts by a
    transaction-level advisory lock). Returns the versions applied now."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS tradewind_migrations (version INTEGER PRIMARY KEY, "
        "name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
    )
    applied: list[int] = []
    for version, name, apply in MIGRATIONS:
        con.execute("BEGIN")
        try:
            con.execute("SELECT pg_advisory_xact_lock(?)", [LOCK_KEY - 1])
            done = con.execute(
                "SELECT count(*) FROM tradewind_migrations WHERE version = ?", [version]
            ).fetchone()
            if not (done and done[0]):
                apply(con, columns)
                con.execute(
                    "INSERT INTO tradewind_migrations (version, name) VALUES (?, ?)",
                    [version, name],
                )
                applied.append(version)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    add_missing_columns(con, columns)
    return applied


def add_missing_columns(con: PgConnection, columns: dict[str, tuple[tuple[str, str], ...]]) -> None:
    """Columns a later tradewind added to a table (appended to the journal's column list, as
    the DuckDB journal gains them in place) are added to a database made before them."""
    have = {
        (t, c)
        for t, c in con.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema()"
        ).fetchall()
    }
    for table, cols in columns.items():
        for name, typ in cols:
            if (table, name) not in have:
                con.execute(
                    f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {name} "
                    f"{pg_type(typ).replace(' PRIMARY KEY', '')}"
                )


def month_bounds(ts_ns: int) -> tuple[str, int, int]:
    """The monthly partition holding ``ts_ns``: its suffix and [start, end) in ns."""
    secs = ts_ns // 10**9
    year, month = _year_month(secs)
    start = calendar.timegm((year, month, 1, 0, 0, 0)) * 10**9
    ny, nm = (year + 1, 1) if month == 12 else (year, month + 1)
    end = calendar.timegm((ny, nm, 1, 0, 0, 0)) * 10**9
    return f"y{year:04d}m{month:02d}", start, end


def _year_month(secs: int) -> tuple[int, int]:
    import datetime as _dt

    d = _dt.datetime(1970, 1, 1) + _dt.timedelta(seconds=secs)
    return d.year, d.month


def ensure_partitions(
    con: PgConnection, table: str, ts_values: Iterable[int], known: set[tuple[str, str]]
) -> None:
    """Create the monthly partitions of ``table`` that rows at ``ts_values`` need (once per
    process: ``known`` remembers them)."""
    for ts in ts_values:
        suffix, start, end = month_bounds(int(ts))
        if (table, suffix) in known:
            continue
        con.execute(
            f"CREATE TABLE IF NOT EXISTS {table}_{suffix} PARTITION OF {table} "
            f"FOR VALUES FROM ({start}) TO ({end})"
        )
        known.add((table, suffix))


def is_partitioned(con: PgConnection, table: str) -> bool:
    """True when ``table`` is natively partitioned (not a hypertable)."""
    row = con.execute(
        "SELECT count(*) FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid "
        "WHERE c.relname = ? AND c.relnamespace = current_schema()::regnamespace",
        [table],
    ).fetchone()
    return bool(row and row[0])
