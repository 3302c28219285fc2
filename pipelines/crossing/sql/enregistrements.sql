-- The records of one crossing: those of its conventions, and of no other.
-- Grain: one row per record of the crossing's deliveries.
-- Sources: `enregistrements_tous` (every record of the build: enregistrements_tous.sql).
-- Parameters: $conventions, the crossing's conventions (a list).
create or replace temp table enregistrements as
select n, rid, source, ligne_source, nir
from enregistrements_tous
where list_contains($conventions, source)
