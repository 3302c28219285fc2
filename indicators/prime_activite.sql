-- Indicateur prime_activite : non-recours présumé à la prime d'activité.
--
-- Calcule : les foyers CAF présumés éligibles à la prime d'activité (la population cible) et,
--   parmi eux, ceux qui ne la perçoivent pas (DROITPPA = N). Population cible : MTAL > 0,
--   REVACTTRIM > 0, allocataire de 18 ans ou plus, et prime calculée PA ≥ prime_activite_minimum,
--   où PA = base × c + part × revenus d'activité mensuels
--           − max(ressources mensuelles + FL(base), base × c)
--   (base = prime_activite_base, part = prime_activite_part_revenus, FL déduit car MTAL > 0).
-- Grain : une ligne par foyer CAF de la population cible (unite_id = foyer_id).
-- Sources : table caf31 (convention caf31), par les relations partagées foyers_caf
--   (composition, coefficient c, type de ménage, forfait logement) et foyers_connus ; table
--   cd31 (convention cd31), pour « connu des services sociaux » seulement (relation foyers_connus).
-- Paramètres : $prime_activite_base, $prime_activite_part_revenus, $prime_activite_minimum ;
--   $reference (date de référence R) par les relations partagées.
-- Calcul exact : tous les montants sont des DECIMAL. Les ressources mensuelles (RESSTRIM / 3)
--   et les revenus d'activité mensuels (REVACTTRIM / 3) n'ont pas toujours d'écriture décimale
--   finie : on calcule donc 3 × PA (le montant sur le trimestre), en multipliant chaque terme
--   par 3, et on le compare à 3 × le minimum : PA ≥ minimum  ⇔  3 × PA ≥ 3 × minimum.

with

-- Imports -----------------------------------------------------------------------------------

foyers as (
    select *
    from foyers_caf
),

connus as (
    select foyer_id
    from foyers_connus
),

parametres as (
    select
        $prime_activite_base as base,
        $prime_activite_part_revenus as part_revenus,
        $prime_activite_minimum as minimum
),

-- Barème ------------------------------------------------------------------------------------

foyers_prime as (
    select
        foyers.*,
        -- forfait logement FL(base), déduit seulement quand une aide au logement est versée
        parametres.base * foyers.taux_forfait_logement as forfait_logement,
        -- 3 × PA = 3 × base × c + part × REVACTTRIM − max(RESSTRIM + 3 × FL, 3 × base × c)
        3 * parametres.base * foyers.coefficient
        + parametres.part_revenus * foyers.revacttrim
        - greatest(
            foyers.resstrim + 3 * forfait_logement, 3 * parametres.base * foyers.coefficient
        ) as prime_trimestrielle
    from foyers
    cross join parametres
),

-- Population cible et non-recours -----------------------------------------------------------

population_cible as (
    select foyers_prime.*
    from foyers_prime
    cross join parametres
    where mtal > 0
        and revacttrim > 0
        and age_allocataire >= 18
        and prime_trimestrielle >= 3 * parametres.minimum  -- PA ≥ minimum
),

final as (
    select
        population_cible.foyer_id as unite_id,
        population_cible.code_commune,
        population_cible.tranche_age_allocataire as tranche_age,
        population_cible.type_menage,
        population_cible.droitppa = 'N' as non_recours,
        connus.foyer_id is not null as connu,
        -- justification du calcul, pour qui veut le refaire à la main
        population_cible.age_allocataire,
        population_cible.adultes,
        population_cible.enfants,
        population_cible.personnes,
        population_cible.coefficient,
        population_cible.forfait_logement,
        population_cible.resstrim,
        population_cible.revacttrim,
        population_cible.prime_trimestrielle
    from population_cible
    left join connus using (foyer_id)
)

select * from final
