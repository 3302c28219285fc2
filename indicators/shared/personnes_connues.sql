-- Relation partagée personnes_connues : les personnes connues des services sociaux, elles-mêmes
-- ou par leur foyer CAF.
--
-- Calcule : une personne est connue quand elle est elle-même en contact récent avec les
--   services sociaux du Département (relation contacts_recents), ou quand elle est membre (toute
--   QUALITE) d'un foyer CAF connu (relation foyers_connus) : un travailleur social qui suit la
--   mère peut orienter l'enfant. Une personne de plusieurs foyers est connue si l'un d'eux l'est.
-- Grain : une ligne par personne connue (personne_id).
-- Sources : relations partagées contacts_recents (table cd31, convention cd31), membres_caf et
--   foyers_connus (table caf31, convention caf31).
-- Paramètres : aucun (la date R est celle de contacts_recents).

with

-- Imports -----------------------------------------------------------------------------------

contacts as (
    select personne_id
    from contacts_recents
),

membres as (
    select personne_id, foyer_id
    from membres_caf
),

foyers as (
    select foyer_id
    from foyers_connus
),

-- Personnes connues -------------------------------------------------------------------------

final as (
    select personne_id from contacts
    union
    select membres.personne_id
    from membres
    inner join foyers using (foyer_id)
)

select * from final
