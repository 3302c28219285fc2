-- Relation partagée foyers_connus : les foyers CAF connus des services sociaux.
--
-- Calcule : les foyers CAF dont l'un des membres (toute QUALITE : ALL, CJT, ENF, AUT) est en
--   contact récent avec les services sociaux du Département (relation contacts_recents), que le
--   foyer ait ou non une ligne ALL.
-- Grain : une ligne par foyer CAF connu (foyer_id).
-- Sources : relations partagées membres_caf (table caf31, convention caf31) et contacts_recents
--   (table cd31, convention cd31).
-- Paramètres : aucun (la date R est celle de contacts_recents).

with

-- Imports -----------------------------------------------------------------------------------

membres as (
    select personne_id, foyer_id
    from membres_caf
),

contacts as (
    select personne_id
    from contacts_recents
),

-- Foyers connus -----------------------------------------------------------------------------

final as (
    select distinct membres.foyer_id
    from membres
    inner join contacts using (personne_id)
)

select * from final
