-- Indicateur rsa : non-recours présumé au revenu de solidarité active (RSA).
--
-- Calcule : les foyers CAF présumés éligibles au RSA (la population cible) et, parmi eux, ceux
--   qui ne le perçoivent pas (DROITRSA = N). Population cible : allocataire de 25 ans ou plus
--   ou foyer avec enfants à charge, DROITAAH = N, et ressources mensuelles (RESSTRIM / 3)
--   strictement inférieures à rsa_base × c − FL(rsa_base), FL étant déduit quand MTAL > 0.
-- Grain : une ligne par foyer CAF de la population cible (unite_id = foyer_id).
-- Sources : table caf (convention caf31) ; table cd31 (convention cd31), pour « connu des
--   services sociaux » seulement.
-- Paramètres : $reference (date de référence R, dernier jour de la période), $rsa_base.
-- Calcul exact : tous les montants sont des DECIMAL. RESSTRIM / 3 n'a pas toujours d'écriture
--   décimale finie (1 000 / 3), on compare donc RESSTRIM à 3 × le seuil mensuel, ce qui est
--   équivalent : RESSTRIM / 3 < seuil  ⇔  RESSTRIM < 3 × seuil.

with

-- Imports -----------------------------------------------------------------------------------

lignes_caf as (
    -- une ligne par membre de foyer ; les champs du foyer sont répétés sur chaque ligne
    select personne_id, foyer_id, qualite, nbenfcharge, resstrim, mtal, droitrsa, droitaah,
        code_commune, age
    from caf
),

contacts_cd31 as (
    select personne_id, date_dernier_contact
    from cd31
),

parametres as (
    select
        $reference::date as date_reference,
        $rsa_base as rsa_base,
        -- « R moins 24 mois » : dernier jour du mois situé 24 mois avant celui de R
        last_day(date_trunc('month', $reference::date) - interval 24 month) as limite_contact
),

-- Composition des foyers --------------------------------------------------------------------

adultes_par_foyer as (
    -- adultes = lignes ALL et CJT ; les lignes ENF et AUT ne comptent jamais
    select foyer_id, count(*) filter (where qualite in ('ALL', 'CJT')) as adultes
    from lignes_caf
    group by foyer_id
),

allocataires as (
    -- la ligne ALL porte l'âge et la commune de l'allocataire, et les champs du foyer
    -- (un foyer sans ligne ALL ne peut pas être rattaché à un allocataire : il est laissé de côté)
    select *
    from lignes_caf
    where qualite = 'ALL'
    qualify row_number() over (partition by foyer_id order by personne_id) = 1
),

foyers as (
    select
        allocataires.foyer_id,
        allocataires.code_commune,
        allocataires.age as age_allocataire,
        adultes_par_foyer.adultes,
        allocataires.nbenfcharge as enfants,  -- enfants à charge : NBENFCHARGE, pas les lignes ENF
        adultes_par_foyer.adultes + allocataires.nbenfcharge as personnes,
        allocataires.resstrim,
        allocataires.mtal,
        allocataires.droitrsa,
        allocataires.droitaah
    from allocataires
    inner join adultes_par_foyer using (foyer_id)
),

-- Barème ------------------------------------------------------------------------------------

foyers_bareme as (
    select
        foyers.*,
        -- coefficient c : 1 pour le premier adulte, + 0,5 pour un second ; les enfants dans
        -- l'ordre : le premier + 0,5 avec un seul adulte ou + 0,3 avec deux, le deuxième + 0,3,
        -- chacun des suivants + 0,4
        1.0
        + case when adultes >= 2 then 0.5 else 0 end
        + case when enfants >= 1 then (case when adultes >= 2 then 0.3 else 0.5 end) else 0 end
        + case when enfants >= 2 then 0.3 else 0 end
        + 0.4 * greatest(enfants - 2, 0) as coefficient,
        -- forfait logement FL(rsa_base), déduit seulement quand une aide au logement est versée
        case
            when mtal > 0 and personnes = 1 then 0.12 * parametres.rsa_base * 1
            when mtal > 0 and personnes = 2 then 0.16 * parametres.rsa_base * 1.5
            when mtal > 0 then 0.165 * parametres.rsa_base * 1.8
            else 0
        end as forfait_logement
    from foyers
    cross join parametres
),

foyers_seuil as (
    select
        foyers_bareme.*,
        -- seuil trimestriel = 3 × (montant forfaitaire × c − FL)
        3 * (parametres.rsa_base * coefficient - forfait_logement) as seuil_trimestriel
    from foyers_bareme
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

foyers_connus as (
    -- un foyer est connu quand l'un de ses membres (toute QUALITE) a eu un contact avec les
    -- services sociaux du Département strictement après R moins 24 mois
    select distinct lignes_caf.foyer_id
    from lignes_caf
    inner join contacts_cd31 using (personne_id)
    cross join parametres
    where contacts_cd31.date_dernier_contact > parametres.limite_contact
),

final as (
    select
        population_cible.foyer_id as unite_id,
        population_cible.code_commune,
        case
            when age_allocataire < 18 then '0-17'
            when age_allocataire < 25 then '18-24'
            when age_allocataire < 35 then '25-34'
            when age_allocataire < 50 then '35-49'
            when age_allocataire < 65 then '50-64'
            when age_allocataire < 75 then '65-74'
            when age_allocataire >= 75 then '75+'
        end as tranche_age,
        case
            when adultes >= 2 and enfants > 0 then 'couple_avec_enfants'
            when adultes >= 2 then 'couple_sans_enfant'
            when enfants > 0 then 'famille_monoparentale'
            else 'personne_seule'
        end as type_menage,
        population_cible.droitrsa = 'N' as non_recours,
        foyers_connus.foyer_id is not null as connu,
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
    left join foyers_connus using (foyer_id)
)

select * from final
