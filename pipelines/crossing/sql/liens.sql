-- The person of every record of one crossing, and how it is linked to its other sources.
-- Grain: one row per record of the crossing (rid = '<convention>:<line of the raw file>').
-- Sources: `enregistrements`, `grappes` (after the cascade).
-- personne_id is derived from the crossing's label ($croisement) and the cluster id, itself a
-- keyed pseudonym (of the NIR, else of the identity traits): the same person gets the same id
-- from one period to the next within a crossing, and ids of two crossings cannot be joined.
-- A temporary table: the warehouse keeps the per-source tables it feeds, never `rid`.
-- lien: 'nir' when another source holds the same NIR, 'traits' when the person is found in
-- another source only through the identity keys, 'aucun' otherwise.
with

records as (
    select
        enregistrements.rid,
        enregistrements.source,
        enregistrements.ligne_source,
        enregistrements.nir,
        grappes.grappe
    from enregistrements
    inner join grappes using (n)
),

nir_ailleurs as (
    select nir, true as ailleurs
    from records
    where nir is not null
    group by nir
    having count(distinct source) > 1
),

grappe_ailleurs as (
    select grappe, true as ailleurs
    from records
    group by grappe
    having count(distinct source) > 1
)

select
    records.rid,
    records.source,
    records.ligne_source,
    'p' || left(sha256($croisement || '|personne|' || records.grappe), 24) as personne_id,
    case
        when nir_ailleurs.ailleurs then 'nir'
        when grappe_ailleurs.ailleurs then 'traits'
        else 'aucun'
    end as lien
from records
left join nir_ailleurs using (nir)
left join grappe_ailleurs using (grappe)
