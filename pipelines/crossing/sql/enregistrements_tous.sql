-- Every record the warehouse build links, numbered, with its first cluster and its keys.
-- Grain: `enregistrements_tous`, one row per record of the deliveries used (n, its number in
-- this build, to join on a number rather than a string; rid = '<convention>:<line>');
-- `cles_tous`, one row per (record, keyed multi-trait key made at ingest).
-- Sources: `lectures` (a temporary view: each delivery's linkage columns, NULL or an empty list
-- where the delivery has none, one select per delivery put together in linkage.py).
-- A record's first cluster (g0) is its NIR pseudonym, else its traits pseudonym, else itself.
-- Cluster ids sort NIR ('a:') before traits ('b:') before lone records ('c:'):
-- passe_appariement.sql relies on that order.
create or replace temp table lus as
select row_number() over () as n, *
from lectures;

create or replace temp table enregistrements_tous as
select
    n,
    rid,
    source,
    ligne_source,
    nir,
    case
        when lus.nir is not null then 'a:' || lus.nir
        when lus.traits is not null then 'b:' || lus.traits
        else 'c:' || lus.rid
    end as g0
from lus;

create or replace temp table cles_tous as
select n, source, unnest(cles) as cle
from lus;

drop table lus;
