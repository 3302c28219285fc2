-- Warehouse table `cd31`: the people followed by the département's social services.
-- Grain: one row per line of the CD31 delivery (one person followed).
-- Sources: cd31 (view `livraison`), `liens`.
with

livraison as (select * from livraison),

liens as (select rid, personne_id from liens where source = 'cd31')

select
    liens.personne_id,
    livraison.DATE_DERNIER_CONTACT as date_dernier_contact,
    livraison.CODE_COMMUNE as code_commune
from livraison
inner join liens on liens.rid = 'cd31:' || livraison.ligne_source
