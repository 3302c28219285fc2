-- Warehouse table `carsatmp`, in the schema of each crossing that uses convention carsatmp:
-- The régime général retirees, each with their person.
-- Grain: one row per line of the CARSAT delivery (one retiree).
-- Sources: carsatmp (view `livraison`), `personnes`
--   (this source's records and their person id in the crossing).
-- The pension and the ASPA are as of the CARSAT extraction; `age` at the reference date.
with

livraison as (select * from livraison),

personnes as (select ligne_source, personne_id from personnes)

select
    personnes.personne_id,
    livraison.PENSION_MENSUELLE_BRUTE::decimal(18, 2) as pension,
    livraison.ASPA as aspa,
    livraison.CODE_INSEE_RESIDENCE as code_commune,
    age_au(livraison.mois_naissance, getvariable('date_reference')) as age
from livraison
inner join personnes using (ligne_source)
