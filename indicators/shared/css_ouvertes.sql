-- Relation partagée css_ouvertes : les personnes qui ont un droit à la complémentaire santé
-- solidaire (CSS) ouvert à R.
--
-- Calcule : les personnes rapprochées d'une ligne CPAM dont le droit CSS est ouvert à R
--   (date_debut_droit ≤ R ≤ date_fin_droit), avec ou sans participation, quelle que soit la
--   commune de la ligne CPAM.
-- Grain : une ligne par personne (personne_id).
-- Sources : table cpam31 (convention cpam31).
-- Paramètres : $reference (date de référence R).

with

-- Imports -----------------------------------------------------------------------------------

lignes_cpam as (
    select personne_id, date_debut_droit, date_fin_droit
    from cpam31
),

parametres as (
    select $reference::date as date_reference
),

-- Droits ouverts ----------------------------------------------------------------------------

final as (
    select distinct lignes_cpam.personne_id
    from lignes_cpam
    cross join parametres
    where lignes_cpam.date_debut_droit <= parametres.date_reference
        and parametres.date_reference <= lignes_cpam.date_fin_droit
)

select * from final
