-- Warehouse table `caf`: the CAF households' members of the period, each with their person.
-- Grain: one row per member line of the CAF delivery (QUALITE ALL, CJT, ENF or AUT).
-- Sources: caf31 (the delivery as view `livraison`), `liens` (linkage).
-- `age` is completed years at the reference date (variable date_reference), from the month
-- of birth.
with

livraison as (select * from livraison),

liens as (select rid, personne_id from liens where source = 'caf31')

select
    liens.personne_id,
    livraison.pseudo_foyer as foyer_id,
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
inner join liens on liens.rid = 'caf31:' || livraison.ligne_source
