-- Warehouse table `ft`: the France Travail job seekers, each with their person.
-- Grain: one row per line of the France Travail delivery (one job seeker).
-- Sources: ftocc (view `livraison`), `liens`.
with

livraison as (select * from livraison),

liens as (select rid, personne_id from liens where source = 'ftocc')

select
    liens.personne_id,
    livraison.CATEGORIE as categorie,
    livraison.INDEMNISATION as indemnisation,
    livraison.DATE_INSCRIPTION as date_inscription,
    livraison.COMMUNE_INSEE as code_commune,
    age_au(livraison.mois_naissance, getvariable('date_reference')) as age
from livraison
inner join liens on liens.rid = 'ftocc:' || livraison.ligne_source
