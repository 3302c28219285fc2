-- After a step of the search that reached new records: they join the reached ones, and the
-- values they hold that were not seen yet make the next front.
-- Grain: `atteints`, one row per record reached; `front`, one row per value first seen at this
-- step; `vus`, one row per value seen.
-- Sources: `nouveaux` (atteinte_etape.sql), `valeurs` (valeurs.sql), `atteints`, `vus`.
insert into atteints
select n
from nouveaux;

create or replace temp table front as
select distinct v
from valeurs
semi join nouveaux using (n)
anti join vus using (v);

insert into vus
select v
from front;
