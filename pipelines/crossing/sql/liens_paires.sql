-- How each source's records are found in each other source of one crossing: the DPO's
-- evidence that only authorized pairs share a person, and the quality table's linkage rates.
-- Grain: one row per (crossing, source, other source, tier) with the records of `source`.
-- Sources: `enregistrements` (records with their NIR pseudonym), `grappes` (final clusters).
-- tier 'nir': a record of the other source holds the same NIR pseudonym; 'traits': the record
-- shares a person with the other source only through the identity keys. Records with the same
-- NIR pseudonym always share a cluster (they start in it and move together), so a NIR held by
-- the other source is a NIR held by the other source in the record's cluster.
with

records as (
    select enregistrements.source, enregistrements.nir, grappes.grappe
    from enregistrements
    inner join grappes using (n)
),

sources_de_grappe as (
    select distinct grappe, source as autre_source
    from records
),

sources_de_nir as (
    select distinct nir, source as autre_source, true as par_nir
    from records
    where nir is not null
),

paires as (
    select
        records.source,
        sources_de_grappe.autre_source,
        coalesce(sources_de_nir.par_nir, false) as par_nir
    from records
    inner join sources_de_grappe
        on records.grappe = sources_de_grappe.grappe
        and records.source <> sources_de_grappe.autre_source
    left join sources_de_nir
        on records.nir = sources_de_nir.nir
        and sources_de_grappe.autre_source = sources_de_nir.autre_source
)

select
    $croisement as croisement,
    source,
    autre_source,
    case when par_nir then 'nir' else 'traits' end as lien,
    count(*) as enregistrements
from paires
group by all
