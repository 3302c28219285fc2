-- The start of the cascade on a whole set of conventions: every record of the set, in its
-- first cluster.
-- Grain: one row per record of the set (n, its cluster).
-- Sources: `enregistrements_tous` (enregistrements_tous.sql).
-- Parameters: $conventions, the set's conventions (a list).
create or replace temp table grappes as
select n, g0 as grappe
from enregistrements_tous
where list_contains($conventions, source)
