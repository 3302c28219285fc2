-- Indicateur aspa : non-recours présumé à l'allocation de solidarité aux personnes âgées (ASPA).
--
-- Calcule : les retraités de la CARSAT présumés éligibles à l'ASPA (la population cible) et,
--   parmi eux, ceux qui ne la perçoivent pas (ASPA = 0). Population cible : 65 ans ou plus à R,
--   et pension sous le plafond :
--   - adulte (ALL ou CJT) d'un foyer CAF à deux adultes : sa pension CARSAT + celle de l'autre
--     adulte du foyer (0 si l'autre adulte n'est pas à la CARSAT, quel que soit son âge)
--     < aspa_plafond_couple ;
--   - sinon : sa propre pension < aspa_plafond_seul.
--   Âge à R ; pension et ASPA telles que les donne l'extraction CARSAT (pension sans l'ASPA).
-- Grain : une ligne par personne de la population cible (unite_id = personne_id).
-- Sources : table carsat (convention carsatmp) ; table caf (convention caf31) pour le conjoint
--   et le foyer ; table cd31 (convention cd31), pour « connu des services sociaux » seulement.
-- Paramètres : $reference (date de référence R), $aspa_plafond_seul, $aspa_plafond_couple.
-- Territoire : la commune de résidence donnée par la CARSAT.

with

-- Imports -----------------------------------------------------------------------------------

lignes_carsat as (
    select personne_id, pension, aspa, code_commune, age
    from carsat
),

lignes_caf as (
    select personne_id, foyer_id, qualite
    from caf
),

contacts_cd31 as (
    select personne_id, date_dernier_contact
    from cd31
),

parametres as (
    select
        $reference::date as date_reference,
        $aspa_plafond_seul as plafond_seul,
        $aspa_plafond_couple as plafond_couple,
        -- « R moins 24 mois » : dernier jour du mois situé 24 mois avant celui de R
        last_day(date_trunc('month', $reference::date) - interval 24 month) as limite_contact
),

-- Retraités et conjoints --------------------------------------------------------------------

retraites as (
    -- une ligne par personne ; si le rapprochement a réuni deux lignes CARSAT sur une même
    -- personne, on garde celle qui présume le moins le non-recours (ASPA perçue d'abord, puis la
    -- pension la plus élevée)
    select *
    from lignes_carsat
    qualify row_number() over (
        partition by personne_id order by aspa desc, pension desc, code_commune
    ) = 1
),

adultes_caf as (
    select personne_id, foyer_id
    from lignes_caf
    where qualite in ('ALL', 'CJT')
),

foyers_deux_adultes as (
    select foyer_id
    from adultes_caf
    group by foyer_id
    having count(*) = 2
),

conjoints as (
    -- pour chaque adulte d'un foyer CAF à deux adultes, l'autre adulte du foyer
    -- (si une personne est adulte de plusieurs tels foyers, le premier par foyer_id)
    select adulte.personne_id, autre.personne_id as conjoint_id
    from adultes_caf as adulte
    inner join adultes_caf as autre
        on adulte.foyer_id = autre.foyer_id and adulte.personne_id <> autre.personne_id
    where adulte.foyer_id in (select foyer_id from foyers_deux_adultes)
    qualify row_number() over (partition by adulte.personne_id order by adulte.foyer_id) = 1
),

-- Plafond -----------------------------------------------------------------------------------

pensions_comparees as (
    select
        retraites.*,
        conjoints.conjoint_id is not null as en_couple,
        case
            -- le conjoint absent de la CARSAT compte pour 0
            when conjoints.conjoint_id is not null
                then retraites.pension + coalesce(pension_conjoint.pension, 0)
            else retraites.pension
        end as pension_retenue,
        case
            when conjoints.conjoint_id is not null then parametres.plafond_couple
            else parametres.plafond_seul
        end as plafond
    from retraites
    left join conjoints using (personne_id)
    left join retraites as pension_conjoint on pension_conjoint.personne_id = conjoints.conjoint_id
    cross join parametres
),

-- Population cible et non-recours -----------------------------------------------------------

population_cible as (
    select *
    from pensions_comparees
    where age >= 65
        and pension_retenue < plafond  -- strictement
),

contacts_recents as (
    -- contact avec les services sociaux du Département strictement après R moins 24 mois
    select distinct contacts_cd31.personne_id
    from contacts_cd31
    cross join parametres
    where contacts_cd31.date_dernier_contact > parametres.limite_contact
),

foyers_connus as (
    select distinct lignes_caf.foyer_id
    from lignes_caf
    inner join contacts_recents using (personne_id)
),

connues_ou_atteintes as (
    -- connue : la personne elle-même, ou un membre (toute QUALITE) d'un foyer CAF auquel elle
    -- appartient (un travailleur social qui suit l'un peut orienter l'autre)
    select personne_id from contacts_recents
    union
    select lignes_caf.personne_id
    from lignes_caf
    inner join foyers_connus using (foyer_id)
),

final as (
    select
        population_cible.personne_id as unite_id,
        population_cible.code_commune,
        case
            when age < 18 then '0-17'
            when age < 25 then '18-24'
            when age < 35 then '25-34'
            when age < 50 then '35-49'
            when age < 65 then '50-64'
            when age < 75 then '65-74'
            when age >= 75 then '75+'
        end as tranche_age,
        null::varchar as type_menage,  -- pas de ventilation par type de ménage
        population_cible.aspa = '0' as non_recours,
        connues_ou_atteintes.personne_id is not null as connu,
        -- justification du calcul, pour qui veut le refaire à la main
        population_cible.age,
        population_cible.en_couple,
        population_cible.pension,
        population_cible.pension_retenue,
        population_cible.plafond
    from population_cible
    left join connues_ou_atteintes using (personne_id)
)

select * from final
