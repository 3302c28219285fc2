-- Indicateur css_rsa : non-recours présumé à la complémentaire santé solidaire (CSS) des
-- foyers au RSA.
--
-- Calcule : tous les membres (ALL, CJT, ENF, AUT) des foyers CAF qui perçoivent le RSA
--   (DROITRSA = O) — la population cible — et, parmi eux, ceux qui n'ont aucun droit CSS ouvert
--   à R à la CPAM (date_debut_droit ≤ R ≤ date_fin_droit, quelle que soit la commune de la
--   ligne CPAM). Les foyers au RSA ont droit à la CSS sans participation.
-- Grain : une ligne par personne de la population cible (unite_id = personne_id).
-- Sources : table caf (convention caf31) ; table cpam (convention cpam31) ; table cd31
--   (convention cd31), pour « connu des services sociaux » seulement.
-- Paramètres : $reference (date de référence R).
-- Territoire et type de ménage : ceux du foyer CAF (commune de la ligne de l'allocataire) ;
--   tranche d'âge : l'âge de la personne elle-même.

with

-- Imports -----------------------------------------------------------------------------------

lignes_caf as (
    -- une ligne par membre de foyer ; les champs du foyer sont répétés sur chaque ligne
    select personne_id, foyer_id, qualite, nbenfcharge, droitrsa, code_commune, age
    from caf
),

lignes_cpam as (
    select personne_id, date_debut_droit, date_fin_droit
    from cpam
),

contacts_cd31 as (
    select personne_id, date_dernier_contact
    from cd31
),

parametres as (
    select
        $reference::date as date_reference,
        -- « R moins 24 mois » : dernier jour du mois situé 24 mois avant celui de R
        last_day(date_trunc('month', $reference::date) - interval 24 month) as limite_contact
),

-- Foyers ------------------------------------------------------------------------------------

adultes_par_foyer as (
    -- adultes = lignes ALL et CJT ; les lignes ENF et AUT ne comptent jamais
    select foyer_id, count(*) filter (where qualite in ('ALL', 'CJT')) as adultes
    from lignes_caf
    group by foyer_id
),

allocataires as (
    -- la ligne ALL porte la commune du foyer et ses champs
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
        adultes_par_foyer.adultes,
        allocataires.nbenfcharge as enfants,  -- enfants à charge : NBENFCHARGE, pas les lignes ENF
        allocataires.droitrsa
    from allocataires
    inner join adultes_par_foyer using (foyer_id)
),

-- Population cible --------------------------------------------------------------------------

foyers_cibles as (
    select *
    from foyers
    where droitrsa = 'O'
),

membres_cibles as (
    -- tous les membres, y compris ENF et AUT. Une personne présente dans plusieurs foyers cibles
    -- (enfant en résidence alternée...) n'est comptée qu'une fois, dans le foyer où sa qualité
    -- est la plus forte (ALL, CJT, ENF, AUT), puis le premier par foyer_id.
    select
        lignes_caf.personne_id,
        lignes_caf.age,
        foyers_cibles.foyer_id,
        foyers_cibles.code_commune,
        foyers_cibles.adultes,
        foyers_cibles.enfants
    from lignes_caf
    inner join foyers_cibles using (foyer_id)
    qualify row_number() over (
        partition by lignes_caf.personne_id
        order by
            case lignes_caf.qualite
                when 'ALL' then 1 when 'CJT' then 2 when 'ENF' then 3 else 4
            end,
            foyers_cibles.foyer_id
    ) = 1
),

-- Non-recours et « connu » ------------------------------------------------------------------

css_ouvertes as (
    -- droit CSS ouvert à R, quelle que soit la commune de la ligne CPAM
    select distinct lignes_cpam.personne_id
    from lignes_cpam
    cross join parametres
    where lignes_cpam.date_debut_droit <= parametres.date_reference
        and parametres.date_reference <= lignes_cpam.date_fin_droit
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
        membres_cibles.personne_id as unite_id,
        membres_cibles.code_commune,
        case
            when age < 18 then '0-17'
            when age < 25 then '18-24'
            when age < 35 then '25-34'
            when age < 50 then '35-49'
            when age < 65 then '50-64'
            when age < 75 then '65-74'
            when age >= 75 then '75+'
        end as tranche_age,
        case
            when adultes >= 2 and enfants > 0 then 'couple_avec_enfants'
            when adultes >= 2 then 'couple_sans_enfant'
            when enfants > 0 then 'famille_monoparentale'
            else 'personne_seule'
        end as type_menage,
        css_ouvertes.personne_id is null as non_recours,
        connues_ou_atteintes.personne_id is not null as connu,
        -- justification du calcul, pour qui veut le refaire à la main
        membres_cibles.foyer_id,
        membres_cibles.age,
        membres_cibles.adultes,
        membres_cibles.enfants
    from membres_cibles
    left join css_ouvertes using (personne_id)
    left join connues_ou_atteintes using (personne_id)
)

select * from final
