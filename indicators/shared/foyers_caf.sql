-- Relation partagée foyers_caf : les foyers CAF, leur composition, leur barème et leur type.
--
-- Calcule : pour chaque foyer CAF (un NUMALLOC, pseudonymisé en foyer_id) qui a une ligne
--   d'allocataire (ALL ; s'il en a deux, la première par personne_id) :
--   - les champs du foyer lus sur la ligne de l'allocataire : commune, âge et tranche d'âge de
--     l'allocataire, RESSTRIM, REVACTTRIM, MTAL, DROITRSA, DROITPPA, DROITAAH ;
--   - adultes (lignes ALL et CJT), enfants (NBENFCHARGE, pas le nombre de lignes ENF),
--     personnes = adultes + enfants (les lignes AUT ne comptent jamais) ;
--   - coefficient c : 1 pour le premier adulte, + 0,5 pour un second ; les enfants dans
--     l'ordre : le premier + 0,5 avec un seul adulte ou + 0,3 avec deux, le deuxième + 0,3,
--     chacun des suivants + 0,4 ;
--   - type_menage : personne_seule, famille_monoparentale, couple_sans_enfant,
--     couple_avec_enfants (un foyer de plus de deux adultes est traité comme un couple) ;
--   - taux_forfait_logement : FL(base) = base × taux_forfait_logement, soit 12 % × 1 pour une
--     personne, 16 % × 1,5 pour deux, 16,5 % × 1,8 pour trois ou plus, quand une aide au
--     logement est versée (MTAL > 0) ; 0 sinon. La base (RSA, prime d'activité) est un
--     paramètre de l'indicateur qui déduit le forfait.
--   Un foyer sans ligne ALL ne peut être rattaché ni à un âge, ni à une commune, ni à des
--   champs de foyer : il n'est pas dans cette relation.
-- Grain : une ligne par foyer CAF ayant une ligne ALL (foyer_id).
-- Sources : relation partagée membres_caf (table caf31, convention caf31).
-- Paramètres : aucun.

with

-- Imports -----------------------------------------------------------------------------------

membres as (
    select *
    from membres_caf
),

-- Composition des foyers --------------------------------------------------------------------

adultes_par_foyer as (
    select foyer_id, count(*) filter (where adulte) as adultes
    from membres
    group by foyer_id
),

allocataires as (
    -- la ligne ALL porte l'âge et la commune de l'allocataire, et les champs du foyer
    select *
    from membres
    where qualite = 'ALL'
    qualify row_number() over (partition by foyer_id order by personne_id) = 1
),

foyers as (
    select
        allocataires.foyer_id,
        allocataires.code_commune,
        allocataires.age as age_allocataire,
        allocataires.tranche_age as tranche_age_allocataire,
        adultes_par_foyer.adultes,
        allocataires.nbenfcharge as enfants,  -- enfants à charge : NBENFCHARGE, pas les lignes ENF
        adultes_par_foyer.adultes + allocataires.nbenfcharge as personnes,
        allocataires.resstrim,
        allocataires.revacttrim,
        allocataires.mtal,
        allocataires.droitrsa,
        allocataires.droitppa,
        allocataires.droitaah
    from allocataires
    inner join adultes_par_foyer using (foyer_id)
),

-- Barème et type de ménage ------------------------------------------------------------------

final as (
    select
        foyers.*,
        1.0
        + case when adultes >= 2 then 0.5 else 0 end
        + case when enfants >= 1 then (case when adultes >= 2 then 0.3 else 0.5 end) else 0 end
        + case when enfants >= 2 then 0.3 else 0 end
        + 0.4 * greatest(enfants - 2, 0) as coefficient,
        case
            when adultes >= 2 and enfants > 0 then 'couple_avec_enfants'
            when adultes >= 2 then 'couple_sans_enfant'
            when enfants > 0 then 'famille_monoparentale'
            else 'personne_seule'
        end as type_menage,
        case
            when mtal > 0 and personnes = 1 then 0.12 * 1
            when mtal > 0 and personnes = 2 then 0.16 * 1.5
            when mtal > 0 then 0.165 * 1.8
            else 0
        end as taux_forfait_logement
    from foyers
)

select * from final
