-- Indicateur demandeurs_sans_revenu : demandeurs d'emploi sans indemnisation ni revenu de
-- solidarité (non-recours présumé au RSA ou à la prime d'activité).
--
-- Calcule : les demandeurs d'emploi de France Travail en catégorie A ou B, inscrits au plus tard
--   à R moins 3 mois, sans indemnisation (INDEMNISATION = AUCUNE) et âgés de 25 ans ou plus —
--   la population cible — et, parmi eux, ceux qui ne sont adulte (ALL ou CJT) d'aucun foyer CAF,
--   où qu'il réside, percevant le RSA (DROITRSA = O) ou la prime d'activité (DROITPPA = O).
-- Grain : une ligne par personne de la population cible (unite_id = personne_id).
-- Sources : table ftocc (convention ftocc) ; table caf31 (convention caf31), par la relation
--   partagée membres_caf ; table cd31 (convention cd31), pour « connu des services sociaux »
--   seulement (relation personnes_connues) ; relation tranches_age.
-- Paramètres : $reference (date de référence R).
-- Territoire : la commune de résidence donnée par France Travail.

with

-- Imports -----------------------------------------------------------------------------------

lignes_ft as (
    select personne_id, categorie, indemnisation, date_inscription, code_commune, age
    from ftocc
),

membres as (
    select personne_id, adulte, droitrsa, droitppa
    from membres_caf
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
        -- « R moins 3 mois » : dernier jour du mois situé 3 mois avant celui de R
        last_day(date_trunc('month', $reference::date) - interval 3 month) as limite_inscription
),

-- Population cible --------------------------------------------------------------------------

demandeurs_cibles as (
    -- une ligne par personne : si le rapprochement a réuni plusieurs inscriptions qui
    -- remplissent toutes les conditions, on garde la plus récente
    select lignes_ft.*
    from lignes_ft
    cross join parametres
    where lignes_ft.categorie in ('A', 'B')
        and lignes_ft.date_inscription <= parametres.limite_inscription
        and lignes_ft.indemnisation = 'AUCUNE'
        and lignes_ft.age >= 25
    qualify row_number() over (
        partition by lignes_ft.personne_id
        order by lignes_ft.date_inscription desc, lignes_ft.code_commune
    ) = 1
),

-- Non-recours et « connu » ------------------------------------------------------------------

adultes_avec_revenu as (
    -- adultes (ALL, CJT) d'un foyer CAF, quelle que soit sa commune, qui perçoit le RSA ou la
    -- prime d'activité (champs du foyer, répétés sur la ligne de chaque membre)
    select distinct personne_id
    from membres
    where adulte
        and (droitrsa = 'O' or droitppa = 'O')
),

final as (
    select
        demandeurs_cibles.personne_id as unite_id,
        demandeurs_cibles.code_commune,
        tranches.tranche_age,
        null::varchar as type_menage,  -- pas de ventilation par type de ménage
        adultes_avec_revenu.personne_id is null as non_recours,
        connues.personne_id is not null as connu,
        -- justification du calcul, pour qui veut le refaire à la main
        demandeurs_cibles.age,
        demandeurs_cibles.categorie,
        demandeurs_cibles.date_inscription
    from demandeurs_cibles
    left join tranches
        on (tranches.age_min is null or demandeurs_cibles.age >= tranches.age_min)
        and (tranches.age_fin is null or demandeurs_cibles.age < tranches.age_fin)
    left join adultes_avec_revenu using (personne_id)
    left join connues using (personne_id)
)

select * from final
