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
-- Sources : table carsatmp (convention carsatmp) ; table caf31 (convention caf31) pour le
--   conjoint et le foyer, par la relation partagée membres_caf ; table cd31 (convention cd31),
--   pour « connu des services sociaux » seulement (relation personnes_connues) ; relation
--   tranches_age.
-- Paramètres : $aspa_plafond_seul, $aspa_plafond_couple ; $reference (date de référence R) par
--   les relations partagées.
-- Territoire : la commune de résidence donnée par la CARSAT.

with

-- Imports -----------------------------------------------------------------------------------

lignes_carsat as (
    select personne_id, pension, aspa, code_commune, age
    from carsatmp
),

adultes_caf as (
    -- adultes (ALL, CJT) de tous les foyers CAF, qu'ils aient ou non une ligne ALL
    select personne_id, foyer_id
    from membres_caf
    where adulte
),

tranches as (
    select tranche_age, age_min, age_fin
    from tranches_age
),

connues as (
    select personne_id
    from personnes_connues
),

parametres as (
    select
        $aspa_plafond_seul as plafond_seul,
        $aspa_plafond_couple as plafond_couple
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

final as (
    select
        population_cible.personne_id as unite_id,
        population_cible.code_commune,
        tranches.tranche_age,
        null::varchar as type_menage,  -- pas de ventilation par type de ménage
        population_cible.aspa = '0' as non_recours,
        connues.personne_id is not null as connu,
        -- justification du calcul, pour qui veut le refaire à la main
        population_cible.age,
        population_cible.en_couple,
        population_cible.pension,
        population_cible.pension_retenue,
        population_cible.plafond
    from population_cible
    left join tranches
        on (tranches.age_min is null or population_cible.age >= tranches.age_min)
        and (tranches.age_fin is null or population_cible.age < tranches.age_fin)
    left join connues using (personne_id)
)

select * from final
