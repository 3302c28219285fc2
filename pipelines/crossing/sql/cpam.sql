-- Warehouse table `cpam`: the CSS rights open at the CPAM's extraction, each with its person.
-- Grain: one row per line of the CPAM delivery (one CSS holder).
-- Sources: cpam31 (view `livraison`), `liens`.
with

livraison as (select * from livraison),

liens as (select rid, personne_id from liens where source = 'cpam31')

select
    liens.personne_id,
    livraison.type_css,
    livraison.date_debut_droit,
    livraison.date_fin_droit,
    livraison.code_commune
from livraison
inner join liens on liens.rid = 'cpam31:' || livraison.ligne_source
