-- The start of the search for the records an added convention reaches: its own records.
-- Grain: `atteints`, one row per record reached (n); `vus`, one row per value seen (v);
-- `front`, the values seen at the last step (here: all of them).
-- Sources: `valeurs` (valeurs.sql).
-- Parameters: $ajoutees, the conventions added to the linked base set (a list).
-- Each step (atteinte_etape.sql, atteinte_suite.sql) then adds the records that share a value
-- of the front, until none is added.
create or replace temp table atteints as
select distinct n
from valeurs
where list_contains($ajoutees, source);

create or replace temp table vus as
select distinct v
from valeurs
where list_contains($ajoutees, source);

create or replace temp table front as
select v
from vus;
