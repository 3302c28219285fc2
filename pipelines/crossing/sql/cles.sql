-- The keyed multi-trait keys of the crossing's records that can link two of its sources.
-- Grain: one row per (record, key) whose key is held by records of two sources at least.
-- Sources: `brut` (the crossing's records, with the keys made at ingest).
-- A key held by one source only can never merge clusters (passe_appariement.sql wants it held
-- once by each of its sources and by two clusters): leaving it out changes no link and saves
-- most of the passes' work.
create or replace temp table cles as

with

toutes as (
    select rid, source, unnest(cles) as cle
    from brut
),

partagees as (
    select cle
    from toutes
    group by cle
    having count(distinct source) > 1
)

select toutes.rid, split_part(toutes.cle, ':', 1) as passe, toutes.cle
from toutes
semi join partagees using (cle)
