-- One step of the search for the records an added convention reaches: the records of the
-- crossing not reached yet that hold a value of the front.
-- Grain: `nouveaux`, one row per record reached at this step (n); none when the search is over.
-- Sources: `valeurs` (valeurs.sql), `front`, `atteints` (atteinte_depart.sql, then
-- atteinte_suite.sql).
-- Parameters: $conventions, the conventions of the crossing being linked (a list).
create or replace temp table nouveaux as
select distinct n
from valeurs
semi join front using (v)
anti join atteints using (n)
where list_contains($conventions, source)
