-- The keyed multi-trait keys of the records being linked that can merge two of their clusters.
-- Grain: `partagees`, one row per key held by records of two sources at least (its pass, and
-- whether each source holds it once); `cles`, one row per (record, key) of such a key that each
-- source holds once.
-- Sources: `grappes` (the records being linked), `cles_tous` (every record's keys made at ingest).
-- passe_appariement.sql uses a key only when each of its sources holds it once and two clusters
-- hold it: a key held by one source only, or twice by one source, can never merge anything, and
-- neither changes from one pass run to the next, so they are left out here, once; that changes
-- no link and saves most of the passes' work. `partagees` keeps the passes to run.
create or replace temp table toutes as
select n, source, cle
from cles_tous
semi join grappes using (n);

create or replace temp table partagees as
with

par_source as (
    select cle, source, count(*) as detenteurs
    from toutes
    group by cle, source
)

select
    cle,
    split_part(cle, ':', 1) as passe,
    max(detenteurs) = 1 as une_fois_par_source
from par_source
group by cle
having count(*) > 1;

create or replace temp table cles as
select toutes.n, toutes.source, partagees.passe, toutes.cle
from toutes
inner join partagees using (cle)
where partagees.une_fois_par_source;

drop table toutes;
