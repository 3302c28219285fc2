-- One run of a pass of the linkage cascade: the records holding the same key of the pass join
-- one person, when that key is unambiguous.
-- Grain: `deplacements`, one row per cluster that moves (its old id, the id it joins).
-- Sources: `cles_passe` (the pass's keys still able to merge clusters, each held once by each of
-- its sources: cles.sql), `grappes` (current clusters).
-- A key is used only when it brings together at most one NIR cluster (two valid NIRs are two
-- people) and each source holds it at most once (two holders in one file may be homonyms born
-- the same day; cles.sql keeps only those). Cluster ids sort NIR ('a:') before traits ('b:')
-- before lone records ('c:'), so `min` makes a cluster with a NIR absorb the others.
-- A NIR cluster never moves, and clusters only merge: a key held by one cluster, or by two NIR
-- clusters, stays so; it is dropped from `cles_passe`, so that the next run of the pass only
-- looks at the keys that may still merge something.
create or replace temp table detenteurs as
select cles_passe.cle, grappes.grappe
from cles_passe
inner join grappes using (n);

create or replace temp table par_cle as
select
    cle,
    count(distinct grappe) > 1
    and count(distinct grappe) filter (where grappe like 'a:%') <= 1 as utilisable,
    min(grappe) as cible
from detenteurs
group by cle;

create or replace temp table deplacements as
select detenteurs.grappe as ancienne, min(par_cle.cible) as nouvelle
from detenteurs
inner join par_cle using (cle)
where par_cle.utilisable and detenteurs.grappe > par_cle.cible
group by detenteurs.grappe;

create or replace temp table cles_suite as
select cles_passe.n, cles_passe.cle
from cles_passe
semi join (select cle from par_cle where utilisable) as encore using (cle);

drop table cles_passe;
drop table detenteurs;
drop table par_cle;
alter table cles_suite rename to cles_passe;
