-- Relation partagée contacts_recents : les personnes en contact récent avec les services
-- sociaux du Département.
--
-- Calcule : les personnes rapprochées d'une fiche USAGERS du Département (table cd31) dont la
--   date du dernier contact est strictement postérieure à R moins 24 mois (le dernier jour du
--   mois situé 24 mois avant celui de R). Un contact postérieur à R (extraction tardive) compte
--   comme récent : la règle ne fixe que la borne basse. Quand la convention cd31 n'est pas
--   utilisable pour la période, la table cd31 est vide et personne n'est dans cette relation.
-- Grain : une ligne par personne (personne_id).
-- Sources : table cd31 (convention cd31).
-- Paramètres : $reference (date de référence R).

with

-- Imports -----------------------------------------------------------------------------------

contacts_cd31 as (
    select personne_id, date_dernier_contact
    from cd31
),

parametres as (
    select
        -- « R moins 24 mois » : dernier jour du mois situé 24 mois avant celui de R
        last_day(date_trunc('month', $reference::date) - interval 24 month) as limite_contact
),

-- Contacts récents --------------------------------------------------------------------------

final as (
    select distinct contacts_cd31.personne_id
    from contacts_cd31
    cross join parametres
    where contacts_cd31.date_dernier_contact > parametres.limite_contact
)

select * from final
