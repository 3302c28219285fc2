-- How many records of each source of the crossing are linked, and how.
-- Grain: one row per (crossing, source, tier) with its number of records.
-- Sources: `liens` (the crossing's records and their person).
select $croisement as croisement, source, lien, count(*) as enregistrements
from liens
group by all
