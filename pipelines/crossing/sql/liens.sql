-- The person of every record, and how it is linked to the other sources.
-- Grain: one row per record (rid = '<convention>:<line of the raw file>').
-- Sources: `enregistrements`, `grappes` (after the cascade).
-- personne_id is derived from the cluster id, itself a keyed pseudonym (of the NIR, else of
-- the identity traits): the same person gets the same id from one period to the next.
-- lien: 'nir' when another source holds the same NIR, 'traits' when the person is found in
-- another source only through the identity keys, 'aucun' otherwise.
with

records as (
    select enregistrements.rid, enregistrements.source, enregistrements.nir, grappes.grappe
    from enregistrements
    inner join grappes using (rid)
),

nir_ailleurs as (
    select distinct a.rid
    from records as a
    inner join records as b on a.nir = b.nir and a.source <> b.source
),

grappe_ailleurs as (
    select distinct a.rid
    from records as a
    inner join records as b on a.grappe = b.grappe and a.source <> b.source
)

select
    records.rid,
    records.source,
    'p' || left(sha256('personne|' || records.grappe), 24) as personne_id,
    case
        when nir_ailleurs.rid is not null then 'nir'
        when grappe_ailleurs.rid is not null then 'traits'
        else 'aucun'
    end as lien
from records
left join nir_ailleurs using (rid)
left join grappe_ailleurs using (rid)
