-- The final clusters of a set extended from a linked base: the records the added conventions
-- did not reach keep the cluster the base gave them, the reached ones take the cluster their
-- own cascade gave them.
-- Grain: one row per record of the extended set (n, its final cluster).
-- Sources: the base's clusters ($grappes_base) and the reached records' clusters
-- ($grappes_atteintes), temporary tables named at run time (`grappes_<k>`); `atteints`
-- (atteinte_*.sql).
select n, grappe
from query_table($grappes_base)
anti join atteints using (n)

union all

select n, grappe
from query_table($grappes_atteintes)
