-- Warehouse table `carsat`: the régime général retirees, each with their person.
-- Grain: one row per line of the CARSAT delivery (one retiree).
-- Sources: carsatmp (view `livraison`), `liens`.
-- The pension and the ASPA are as of the CARSAT extraction; `age` at the reference date.
with

livraison as (select * from livraison),

liens as (select rid, personne_id from liens where source = 'carsatmp')

select
    liens.personne_id,
    livraison.PENSION_MENSUELLE_BRUTE::decimal(18, 2) as pension,
    livraison.ASPA as aspa,
    livraison.CODE_INSEE_RESIDENCE as code_commune,
    age_au(livraison.mois_naissance, getvariable('date_reference')) as age
from livraison
inner join liens on liens.rid = 'carsatmp:' || livraison.ligne_source
