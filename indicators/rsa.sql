-- Indicateur rsa : non-recours présumé au revenu de solidarité active (RSA).
--
-- Calcule : les foyers CAF présumés éligibles au RSA (la population cible) et, parmi eux, ceux
--   qui ne le perçoivent pas (DROITRSA = N). Population cible : allocataire de 25 ans ou plus
--   ou foyer avec enfants à charge, DROITAAH = N, et ressources mensuelles (RESSTRIM / 3)
--   strictement inférieures à rsa_base × c − FL(rsa_base), FL étant déduit quand MTAL > 0.
-- Grain : une ligne par foyer CAF de la population cible (unite_id = foyer_id).
-- Sources : table caf31 (convention caf31), par les relations partagées foyers_caf (composition,
--   coefficient c, type de ménage, forfait logement) et foyers_connus ; table cd31 (convention
--   cd31), pour « connu des services sociaux » seulement (relation foyers_connus).
-- Paramètres : $rsa_base ; $reference (date de référence R) par les relations partagées.
-- Calcul exact : tous les montants sont des DECIMAL. RESSTRIM / 3 n'a pas toujours d'écriture
--   décimale finie (1 000 / 3), on compare donc RESSTRIM à 3 × le seuil mensuel, ce qui est
--   équivalent : RESSTRIM / 3 < seuil  ⇔  RESSTRIM < 3 × seuil.

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
    select $rsa_base as rsa_base
),

-- Barème ------------------------------------------------------------------------------------

foyers_seuil as (
    select
        foyers.*,
        -- forfait logement FL(rsa_base), déduit seulement quand une aide au logement est versée
        parametres.rsa_base * foyers.taux_forfait_logement as forfait_logement,
        -- seuil trimestriel = 3 × (montant forfaitaire × c − FL)
        3 * (parametres.rsa_base * foyers.coefficient - forfait_logement) as seuil_trimestriel
    from foyers
    cross join parametres
),

-- Population cible et non-recours -----------------------------------------------------------

population_cible as (
    select *
    from foyers_seuil
    where (age_allocataire >= 25 or enfants > 0)
        and droitaah = 'N'
        and resstrim < seuil_trimestriel  -- strictement : RESSTRIM / 3 < seuil mensuel
),

final as (
    select
        population_cible.foyer_id as unite_id,
        population_cible.code_commune,
        population_cible.tranche_age_allocataire as tranche_age,
        population_cible.type_menage,
        population_cible.droitrsa = 'N' as non_recours,
        connus.foyer_id is not null as connu,
        -- justification du calcul, pour qui veut le refaire à la main
        population_cible.age_allocataire,
        population_cible.adultes,
        population_cible.enfants,
        population_cible.personnes,
        population_cible.coefficient,
        population_cible.forfait_logement,
        population_cible.resstrim,
        population_cible.seuil_trimestriel
    from population_cible
    left join connus using (foyer_id)
)

select * from final
