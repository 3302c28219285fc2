-- Indicateur demandeurs_sans_revenu : demandeurs d'emploi sans indemnisation ni revenu de
-- solidarité (non-recours présumé au RSA ou à la prime d'activité).
--
-- Calcule : les demandeurs d'emploi de France Travail en catégorie A ou B, inscrits au plus tard
--   à R moins 3 mois, sans indemnisation (INDEMNISATION = AUCUNE) et âgés de 25 ans ou plus —
--   la population cible — et, parmi eux, ceux qui ne sont adulte (ALL ou CJT) d'aucun foyer CAF,
--   où qu'il réside, percevant le RSA (DROITRSA = O) ou la prime d'activité (DROITPPA = O).
-- Grain : une ligne par personne de la population cible (unite_id = personne_id).
-- Sources : table ft (convention ftocc) ; table caf (convention caf31) ; table cd31
--   (convention cd31), pour « connu des services sociaux » seulement.
-- Paramètres : $reference (date de référence R).
-- Territoire : la commune de résidence donnée par France Travail.

with

-- Imports -----------------------------------------------------------------------------------

lignes_ft as (
    select personne_id, categorie, indemnisation, date_inscription, code_commune, age
    from ft
),

lignes_caf as (
    select personne_id, foyer_id, qualite, droitrsa, droitppa
    from caf
),

contacts_cd31 as (
    select personne_id, date_dernier_contact
    from cd31
),

parametres as (
    select
        $reference::date as date_reference,
        -- « R moins k mois » : dernier jour du mois situé k mois avant celui de R
        last_day(date_trunc('month', $reference::date) - interval 3 month) as limite_inscription,
        last_day(date_trunc('month', $reference::date) - interval 24 month) as limite_contact
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
    from lignes_caf
    where qualite in ('ALL', 'CJT')
        and (droitrsa = 'O' or droitppa = 'O')
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
        demandeurs_cibles.personne_id as unite_id,
        demandeurs_cibles.code_commune,
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
        adultes_avec_revenu.personne_id is null as non_recours,
        connues_ou_atteintes.personne_id is not null as connu,
        -- justification du calcul, pour qui veut le refaire à la main
        demandeurs_cibles.age,
        demandeurs_cibles.categorie,
        demandeurs_cibles.date_inscription
    from demandeurs_cibles
    left join adultes_avec_revenu using (personne_id)
    left join connues_ou_atteintes using (personne_id)
)

select * from final
