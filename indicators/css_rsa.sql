-- Indicateur css_rsa : non-recours présumé à la complémentaire santé solidaire (CSS) des
-- foyers au RSA.
--
-- Calcule : tous les membres (ALL, CJT, ENF, AUT) des foyers CAF qui perçoivent le RSA
--   (DROITRSA = O) — la population cible — et, parmi eux, ceux qui n'ont aucun droit CSS ouvert
--   à R à la CPAM (date_debut_droit ≤ R ≤ date_fin_droit, quelle que soit la commune de la
--   ligne CPAM). Les foyers au RSA ont droit à la CSS sans participation.
-- Grain : une ligne par personne de la population cible (unite_id = personne_id).
-- Sources : table caf31 (convention caf31), par les relations partagées membres_caf et
--   foyers_caf ; table cpam31 (convention cpam31), par la relation css_ouvertes ; table cd31
--   (convention cd31), pour « connu des services sociaux » seulement (relation
--   personnes_connues).
-- Paramètres : aucun ici ; $reference (date de référence R) par les relations partagées.
-- Territoire et type de ménage : ceux du foyer CAF (commune de la ligne de l'allocataire) ;
--   tranche d'âge : l'âge de la personne elle-même.

with

-- Imports -----------------------------------------------------------------------------------

membres as (
    select personne_id, foyer_id, rang_qualite, age, tranche_age
    from membres_caf
),

foyers as (
    select foyer_id, code_commune, adultes, enfants, type_menage, droitrsa
    from foyers_caf
),

ouvertes as (
    select personne_id
    from css_ouvertes
),

connues as (
    select personne_id
    from personnes_connues
),

-- Population cible --------------------------------------------------------------------------

membres_cibles as (
    -- tous les membres, y compris ENF et AUT. Une personne présente dans plusieurs foyers cibles
    -- (enfant en résidence alternée...) n'est comptée qu'une fois, dans le foyer où sa qualité
    -- est la plus forte (ALL, CJT, ENF, AUT), puis le premier par foyer_id.
    select membres.personne_id, membres.age, membres.tranche_age, foyers.*
    from membres
    inner join foyers using (foyer_id)
    where foyers.droitrsa = 'O'
    qualify row_number() over (
        partition by membres.personne_id order by membres.rang_qualite, foyers.foyer_id
    ) = 1
),

-- Non-recours et « connu » ------------------------------------------------------------------

final as (
    select
        membres_cibles.personne_id as unite_id,
        membres_cibles.code_commune,
        membres_cibles.tranche_age,
        membres_cibles.type_menage,
        ouvertes.personne_id is null as non_recours,
        connues.personne_id is not null as connu,
        -- justification du calcul, pour qui veut le refaire à la main
        membres_cibles.foyer_id,
        membres_cibles.age,
        membres_cibles.adultes,
        membres_cibles.enfants
    from membres_cibles
    left join ouvertes using (personne_id)
    left join connues using (personne_id)
)

select * from final
