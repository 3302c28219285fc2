-- The moves of a set extended from a linked base: the base's moves of the clusters no reached
-- record started in, then the moves of the reached records' cascade. A cluster id is the first
-- cluster of some records: reached or not, it moved as a whole.
-- Grain: one row per cluster moved (its pass, its old id).
-- Sources: the base's moves ($deplacements_base) and the reached records' moves
-- ($deplacements_atteints), temporary tables named at run time (`deplacements_<k>`);
-- `enregistrements_tous` (enregistrements_tous.sql), `atteints` (atteinte_*.sql).
with

depart_atteint as (
    select g0 as ancienne
    from enregistrements_tous
    semi join atteints using (n)
)

select passe, ancienne
from query_table($deplacements_base)
anti join depart_atteint using (ancienne)

union all

select passe, ancienne
from query_table($deplacements_atteints)
