-- Indicateur css_bas_revenus : non-recours présumé à la complémentaire santé solidaire (CSS)
-- des foyers à bas revenus qui ne perçoivent pas le RSA.
--
-- Calcule : tous les membres (ALL, CJT, ENF, AUT) des foyers CAF sans RSA (DROITRSA = N) dont
--   les ressources annuelles (4 × RESSTRIM) sont inférieures ou égales au plafond de la CSS avec
--   participation financière pour leur nombre de personnes — la population cible — et, parmi
--   eux, ceux qui n'ont aucun droit CSS ouvert à R à la CPAM (date_debut_droit ≤ R ≤
--   date_fin_droit, quelle que soit la commune de la ligne CPAM).
--   Personnes du foyer = adultes (ALL, CJT) + NBENFCHARGE ; les lignes AUT ne comptent pas.
--   Plafond : css_plafond_1_personne à css_plafond_4_personnes, puis
--   + css_plafond_personne_supplementaire par personne au-delà de quatre.
-- Grain : une ligne par personne de la population cible (unite_id = personne_id).
-- Sources : table caf31 (convention caf31), par les relations partagées membres_caf et
--   foyers_caf ; table cpam31 (convention cpam31), par la relation css_ouvertes ; table cd31
--   (convention cd31), pour « connu des services sociaux » seulement (relation
--   personnes_connues).
-- Paramètres : $css_plafond_1_personne, $css_plafond_2_personnes, $css_plafond_3_personnes,
--   $css_plafond_4_personnes, $css_plafond_personne_supplementaire ; $reference (date de
--   référence R) par les relations partagées.
-- Territoire et type de ménage : ceux du foyer CAF (commune de la ligne de l'allocataire) ;
--   tranche d'âge : l'âge de la personne elle-même.

with

-- Imports -----------------------------------------------------------------------------------

membres as (
    select personne_id, foyer_id, rang_qualite, age, tranche_age
    from membres_caf
),

foyers as (
    select foyer_id, code_commune, adultes, enfants, personnes, type_menage, resstrim, droitrsa
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

parametres as (
    select
        $css_plafond_1_personne as plafond_1,
        $css_plafond_2_personnes as plafond_2,
        $css_plafond_3_personnes as plafond_3,
        $css_plafond_4_personnes as plafond_4,
        $css_plafond_personne_supplementaire as plafond_par_personne_en_plus
),

-- Plafond -----------------------------------------------------------------------------------

foyers_plafond as (
    select
        foyers.*,
        4 * foyers.resstrim as ressources_annuelles,
        case
            when personnes <= 1 then parametres.plafond_1
            when personnes = 2 then parametres.plafond_2
            when personnes = 3 then parametres.plafond_3
            when personnes = 4 then parametres.plafond_4
            else parametres.plafond_4 + parametres.plafond_par_personne_en_plus * (personnes - 4)
        end as plafond
    from foyers
    cross join parametres
),

-- Population cible --------------------------------------------------------------------------

foyers_cibles as (
    select *
    from foyers_plafond
    where droitrsa = 'N'
        and ressources_annuelles <= plafond  -- inférieures ou égales
),

membres_cibles as (
    -- tous les membres, y compris ENF et AUT. Une personne présente dans plusieurs foyers cibles
    -- (enfant en résidence alternée...) n'est comptée qu'une fois, dans le foyer où sa qualité
    -- est la plus forte (ALL, CJT, ENF, AUT), puis le premier par foyer_id.
    select membres.personne_id, membres.age, membres.tranche_age, foyers_cibles.*
    from membres
    inner join foyers_cibles using (foyer_id)
    qualify row_number() over (
        partition by membres.personne_id order by membres.rang_qualite, foyers_cibles.foyer_id
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
        membres_cibles.enfants,
        membres_cibles.personnes,
        membres_cibles.ressources_annuelles,
        membres_cibles.plafond
    from membres_cibles
    left join ouvertes using (personne_id)
    left join connues using (personne_id)
)

select * from final
