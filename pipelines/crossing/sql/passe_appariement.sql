-- One pass of the linkage cascade: the records holding the same key of pass $passe join one
-- person, when that key is unambiguous.
-- Grain: one row per cluster that moves (its old id, the id it joins).
-- Sources: `cles` (the keyed multi-trait keys made at ingest), `grappes` (current clusters),
-- `enregistrements` (one row per record of every source).
-- A key is used only when it brings together at most one NIR cluster (two valid NIRs are two
-- people) and each source holds it at most once (two holders in one file may be homonyms born
-- the same day). Cluster ids sort NIR ('a:') before traits ('b:') before lone records ('c:'),
-- so `min` makes a cluster with a NIR absorb the others.
with

detenteurs as (
    select cles.cle, grappes.grappe, enregistrements.source
    from cles
    inner join grappes using (rid)
    inner join enregistrements using (rid)
    where cles.passe = $passe
),

par_cle as (
    select
        cle,
        count(distinct grappe) as nb_grappes,
        count(distinct grappe) filter (where grappe like 'a:%') as nb_grappes_nir,
        count(*) as nb_detenteurs,
        count(distinct source) as nb_sources,
        min(grappe) as cible
    from detenteurs
    group by cle
),

utilisables as (
    select cle, cible
    from par_cle
    where nb_grappes > 1 and nb_grappes_nir <= 1 and nb_detenteurs = nb_sources
)

select detenteurs.grappe as ancienne, min(utilisables.cible) as nouvelle
from detenteurs
inner join utilisables using (cle)
where detenteurs.grappe > utilisables.cible
group by detenteurs.grappe
