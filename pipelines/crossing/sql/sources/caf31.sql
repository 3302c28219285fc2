-- Warehouse table `caf31`, in the schema of each crossing that uses convention caf31:
-- The CAF households' members of the period, each with their person.
-- Grain: one row per member line of the CAF delivery (QUALITE ALL, CJT, ENF or AUT).
-- Sources: caf31 (the delivery as view `livraison`), `personnes`
--   (this source's records and their person id in the crossing).
-- `age` is completed years at the reference date (variable date_reference), from the month
-- of birth.
with

livraison as (select * from livraison),

personnes as (select ligne_source, personne_id from personnes)

select
    personnes.personne_id,
    -- the household pseudonym, scoped to the crossing like the person id
    'f' || left(sha256(getvariable('croisement') || '|' || livraison.pseudo_foyer), 24) as foyer_id,
    livraison.QUALITE as qualite,
    livraison.NBENFCHARGE::integer as nbenfcharge,
    livraison.RESSTRIM::decimal(18, 2) as resstrim,
    livraison.REVACTTRIM::decimal(18, 2) as revacttrim,
    livraison.MTAL::decimal(18, 2) as mtal,
    livraison.DROITRSA as droitrsa,
    livraison.DROITPPA as droitppa,
    livraison.DROITAAH as droitaah,
    livraison.CODECOMMUNE as code_commune,
    age_au(livraison.mois_naissance, getvariable('date_reference')) as age
from livraison
inner join personnes using (ligne_source)
