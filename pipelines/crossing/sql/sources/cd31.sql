-- Warehouse table `cd31`, in the schema of each crossing that uses convention cd31:
-- The people followed by the département's social services.
-- Grain: one row per line of the CD31 delivery (one person followed).
-- Sources: cd31 (view `livraison`), `personnes`
--   (this source's records and their person id in the crossing).
with

livraison as (select * from livraison),

personnes as (select ligne_source, personne_id from personnes)

select
    personnes.personne_id,
    livraison.DATE_DERNIER_CONTACT as date_dernier_contact,
    livraison.CODE_COMMUNE as code_commune
from livraison
inner join personnes using (ligne_source)
