-- Every value a record can share with another: its first cluster and its keys, hashed to a
-- number, for finding the records an added convention reaches (atteinte_*.sql).
-- Grain: one row per (record, value): its first cluster, then each of its keys.
-- Sources: `enregistrements_tous`, `cles_tous` (enregistrements_tous.sql).
-- Two values with the same hash only make the reached part larger, never a link: the cascade
-- itself runs on the values.
create temp table valeurs as
select n, source, hash(g0) as v
from enregistrements_tous

union all

select n, source, hash(cle) as v
from cles_tous
