-- Whether a table or a view of that name is what an unqualified name reads in the current
-- database: a temporary one, or one of the current schema (the crossing's, see
-- warehouse.use_crossing). Asked without a failing query, which would abort a transaction the
-- caller may have opened.
-- Grain: one row, the number of such tables and views (0 when none).
-- Sources: DuckDB's catalog (`duckdb_tables()`, `duckdb_views()`, internal views left out).
-- Parameters: $nom, the name (compared without case, as DuckDB resolves names).
with

relations as (
    select database_name, schema_name, table_name as name
    from duckdb_tables()

    union all

    select database_name, schema_name, view_name
    from duckdb_views()
    where not internal
)

select count(*)
from relations
where lower(name) = lower($nom)
    and (
        database_name = 'temp'
        or (database_name = current_database() and schema_name = current_schema())
    )
