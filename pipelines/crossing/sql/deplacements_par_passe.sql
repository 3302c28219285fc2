-- How many clusters each pass of the cascade moved, for the run's summary.
-- Grain: one row per pass that moved a cluster (its name, its moves).
-- Sources: the moves table of a linked set (`deplacements_<k>`, named by $deplacements: one per
-- set of conventions linked, so its name is only known at run time).
select passe, count(*)
from query_table($deplacements)
group by passe
