-- Warehouse table `ftocc`, in the schema of each crossing that uses convention ftocc:
-- The France Travail job seekers, each with their person.
-- Grain: one row per line of the France Travail delivery (one job seeker).
-- Sources: ftocc (view `livraison`), `personnes`
--   (this source's records and their person id in the crossing).
with

livraison as (select * from livraison),

personnes as (select ligne_source, personne_id from personnes)

select
    personnes.personne_id,
    livraison.CATEGORIE as categorie,
    livraison.INDEMNISATION as indemnisation,
    livraison.DATE_INSCRIPTION as date_inscription,
    livraison.COMMUNE_INSEE as code_commune,
    age_au(livraison.mois_naissance, getvariable('date_reference')) as age
from livraison
inner join personnes using (ligne_source)
