"""Every SQL query the docs show runs on Athena as written: it parses as Trino's SQL (Athena
engine version 3) and as DuckDB's, and calls no function Trino lacks.

The queries: each ```sql block of docs/ and of the rendered README, and the QUERIES of the
rendered project's tests/test_tables.py, which run the how-to's queries on DuckDB over the
demo's lake and check their figures. Every block of the how-to is one of those QUERIES, so
each query shown is also run on DuckDB.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel, SqlglotError

from conftest import ROOT

HOW_TO = ROOT / "docs" / "how-to" / "query-the-lake.md"
TABLES_TESTS = ROOT / "template" / "tests" / "test_tables.py.jinja"
DIALECTS = ("trino", "duckdb")  # Athena engine version 3 is Trino; the local `query` verb DuckDB
# The docs name the rendered package `my_pipeline`; the tests' QUERIES name it `{db}`.
DOC_DATABASE = "my_pipeline"


@dataclass(frozen=True)
class Query:
    where: str  # file:line of the query's first line
    sql: str


def sql_blocks(path: Path) -> list[Query]:
    """The ```sql blocks of a Markdown file (or of a Jinja template of one)."""
    found, block, start = [], None, 0
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if block is None and line.strip() == "```sql":
            block, start = [], number + 1
        elif block is not None and line.strip() == "```":
            found.append(Query(f"{path.relative_to(ROOT)}:{start}", "\n".join(block)))
            block = None
        elif block is not None:
            block.append(line)
    return found


def queries_the_tests_run() -> list[Query]:
    """The QUERIES dict of the rendered project's tests/test_tables.py, read from its template
    (the dict itself holds no Jinja), with `{db}` as the docs write it."""
    text = TABLES_TESTS.read_text()
    start = text.index("\nQUERIES = {") + 1
    end = text.index("\n}\n", start) + 2
    queries = ast.literal_eval(text[start:end].split("=", 1)[1])
    first_line = text[:start].count("\n") + 1
    where = f"{TABLES_TESTS.relative_to(ROOT)}:{first_line}"
    return [
        Query(f"{where} QUERIES[{feed!r}][{name!r}]", sql.format(db=DOC_DATABASE))
        for feed, by_name in queries.items()
        for name, sql in by_name.items()
    ]


def documented_queries() -> list[Query]:
    markdown = sorted((ROOT / "docs").rglob("*.md")) + sorted((ROOT / "template").rglob("*.md*"))
    return [query for path in markdown for query in sql_blocks(path)]


def problems(sql: str) -> list[str]:
    """Why `sql` would not run as written in Athena or DuckDB: empty if it would."""
    found = []
    for dialect in DIALECTS:
        try:
            tree = sqlglot.parse_one(sql, read=dialect, error_level=ErrorLevel.RAISE)
        except SqlglotError as error:
            found.append(f"{dialect}: {str(error).splitlines()[0]}")
            continue
        if dialect == "trino":
            # A call sqlglot's Trino dialect does not know (a DuckDB-only function, say).
            unknown = sorted({f.name for f in tree.find_all(exp.Anonymous)})
            found += [f"trino: no function {name}()" for name in unknown]
    return found


def first_line(sql: str) -> str:
    return next(line.strip() for line in sql.splitlines() if line.strip())


@pytest.mark.parametrize("query", documented_queries() + queries_the_tests_run(), ids=lambda q: q.where)
def test_every_documented_query_parses_as_athena_and_duckdb_sql(query):
    assert problems(query.sql) == [], f"{query.where}: {first_line(query.sql)}"


def normalized(sql: str) -> str:
    return " ".join(sql.split())


def test_every_query_of_the_how_to_is_one_the_rendered_tests_run_on_duckdb():
    """So "the same SQL runs in DuckDB and Athena" holds for each query the how-to shows."""
    run = {normalized(query.sql) for query in queries_the_tests_run()}
    shown = sql_blocks(HOW_TO)
    assert len(shown) >= 5
    assert [f"{q.where}: {first_line(q.sql)}" for q in shown if normalized(q.sql) not in run] == []


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT series FROM t QUALIFY row_number() OVER (PARTITION BY series) = 1",  # DuckDB, not Trino
        "SELECT strftime(interval_start, '%Y-%m') FROM t",  # Trino has format_datetime
        "SELECT epoch_ms(interval_start) FROM t",
        "SELECT series, FROM t WHERE",
    ],
)
def test_a_query_athena_would_refuse_is_reported(sql):
    assert problems(sql)
