-- The warehouse's linkage measures, one set per crossing: what the DPO and `qualite` read.
-- Grain: see each table; counts of records only, never a record or a person id.
-- Sources: none (empty tables, filled crossing by crossing by linkage.link from
--   liens_paires.sql, liens_sources.sql and identites_inutilisables.sql).
-- liens_paires: per crossing, ordered pair of its sources and tier, the records of `source`
--   that share a person with `autre_source` (the evidence that only authorized pairs meet).
-- liens_sources: per crossing, source and tier ('nir', 'traits', 'aucun'), its records.
-- identites_inutilisables: per crossing and source, records with neither NIR nor traits.
create table if not exists liens_paires (
    croisement varchar, source varchar, autre_source varchar, lien varchar,
    enregistrements bigint
);

create table if not exists liens_sources (croisement varchar, source varchar, lien varchar,
    enregistrements bigint);

create table if not exists identites_inutilisables (croisement varchar, source varchar, n bigint);
