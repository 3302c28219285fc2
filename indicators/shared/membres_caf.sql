-- Relation partagée membres_caf : les membres des foyers CAF, leur qualité et leur tranche d'âge.
--
-- Calcule : chaque ligne de la table caf31 (une personne membre d'un foyer), avec
--   - adulte : QUALITE ALL ou CJT (les lignes ENF et AUT ne sont jamais des adultes) ;
--   - rang_qualite : 1 ALL, 2 CJT, 3 ENF, 4 AUT (l'ordre qui choisit le foyer d'une personne
--     présente dans plusieurs foyers : la qualité la plus forte d'abord) ;
--   - tranche_age : la tranche de l'âge de la personne à R (relation tranches_age).
--   Les champs du foyer (NBENFCHARGE, ressources, droits, commune) sont tels que la CAF les
--   répète sur la ligne de chaque membre ; ceux qui font foi pour le foyer sont ceux de la ligne
--   de l'allocataire (relation foyers_caf).
-- Grain : une ligne par ligne de la table caf31 (personne × foyer), y compris les foyers sans
--   ligne ALL.
-- Sources : table caf31 (convention caf31) ; relation partagée tranches_age.
-- Paramètres : aucun.

with

-- Imports -----------------------------------------------------------------------------------

lignes_caf as (
    -- une ligne par membre de foyer ; les champs du foyer sont répétés sur chaque ligne
    select personne_id, foyer_id, qualite, nbenfcharge, resstrim, revacttrim, mtal, droitrsa,
        droitppa, droitaah, code_commune, age
    from caf31
),

tranches as (
    select tranche_age, age_min, age_fin
    from tranches_age
),

-- Qualité et tranche d'âge ------------------------------------------------------------------

final as (
    select
        lignes_caf.*,
        -- adultes = lignes ALL et CJT ; les lignes ENF et AUT ne comptent jamais
        coalesce(lignes_caf.qualite in ('ALL', 'CJT'), false) as adulte,
        case lignes_caf.qualite
            when 'ALL' then 1 when 'CJT' then 2 when 'ENF' then 3 else 4
        end as rang_qualite,
        tranches.tranche_age
    from lignes_caf
    left join tranches
        on (tranches.age_min is null or lignes_caf.age >= tranches.age_min)
        and (tranches.age_fin is null or lignes_caf.age < tranches.age_fin)
)

select * from final
