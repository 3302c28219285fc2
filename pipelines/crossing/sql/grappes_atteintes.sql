-- The start of the cascade that extends a linked set: the records the added conventions reach
-- (theirs, and every record of the crossing they share a value with), in their first cluster.
-- Grain: one row per record reached (n, its cluster).
-- Sources: `enregistrements_tous` (enregistrements_tous.sql), `atteints` (atteinte_*.sql).
create or replace temp table grappes as
select n, g0 as grappe
from enregistrements_tous
semi join atteints using (n)
