-- How each source's records are found in each other source of one crossing: the DPO's
-- evidence that only authorized pairs share a person, and the quality table's linkage rates.
-- Grain: one row per (crossing, source, other source, tier) with the records of `source`.
-- Sources: `enregistrements` (records with their NIR pseudonym), `grappes` (final clusters).
-- tier 'nir': a record of the other source holds the same NIR pseudonym; 'traits': the record
-- shares a person with the other source only through the identity keys.
with

records as (
    select enregistrements.rid, enregistrements.source, enregistrements.nir, grappes.grappe
    from enregistrements
    inner join grappes using (rid)
),

paires as (
    select
        a.rid,
        a.source,
        b.source as autre_source,
        bool_or(a.nir is not null and a.nir = b.nir) as par_nir
    from records as a
    inner join records as b on a.grappe = b.grappe and a.source <> b.source
    group by a.rid, a.source, b.source
)

select
    $croisement as croisement,
    source,
    autre_source,
    case when par_nir then 'nir' else 'traits' end as lien,
    count(*) as enregistrements
from paires
group by all
