-- After a run of a pass of the cascade: every record of a cluster that moves joins its new
-- cluster.
-- Grain: `grappes`, one row per record being linked (n, its current cluster), updated in place.
-- Sources: `deplacements` (passe_appariement.sql: each moving cluster, the cluster it joins).
update grappes
set grappe = deplacements.nouvelle
from deplacements
where grappes.grappe = deplacements.ancienne
