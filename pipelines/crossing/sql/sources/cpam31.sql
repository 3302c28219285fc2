-- Warehouse table `cpam31`, in the schema of each crossing that uses convention cpam31:
-- The CSS rights open at the CPAM's extraction, each with its person.
-- Grain: one row per line of the CPAM delivery (one CSS holder).
-- Sources: cpam31 (view `livraison`), `personnes`
--   (this source's records and their person id in the crossing).
with

livraison as (select * from livraison),

personnes as (select ligne_source, personne_id from personnes)

select
    personnes.personne_id,
    livraison.type_css,
    livraison.date_debut_droit,
    livraison.date_fin_droit,
    livraison.code_commune
from livraison
inner join personnes using (ligne_source)
