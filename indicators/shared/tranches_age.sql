-- Relation partagée tranches_age : les tranches d'âge publiées et leurs bornes.
--
-- Calcule : les sept tranches d'âge de docs/regles.md, chacune avec ses bornes en années
--   révolues à R : age_min inclus, age_fin exclu ; une borne vide n'arrête pas la tranche (un
--   âge négatif tombe dans 0-17, un âge de 75 ans ou plus dans 75+). Un âge inconnu (vide)
--   n'est dans aucune tranche. Rattacher un âge à sa tranche :
--     left join tranches_age
--         on (tranches_age.age_min is null or age >= tranches_age.age_min)
--         and (tranches_age.age_fin is null or age < tranches_age.age_fin)
-- Grain : une ligne par tranche d'âge (les tranches ne se chevauchent pas et couvrent tous les
--   âges : chaque âge connu est dans exactement une tranche).
-- Sources : aucune table (définition de docs/regles.md).
-- Paramètres : aucun.

with

tranches as (
    select *
    from (
        values
            ('0-17', null, 18),
            ('18-24', 18, 25),
            ('25-34', 25, 35),
            ('35-49', 35, 50),
            ('50-64', 50, 65),
            ('65-74', 65, 75),
            ('75+', 75, null)
    ) as tranches (tranche_age, age_min, age_fin)
),

final as (
    select
        tranche_age::varchar as tranche_age,
        age_min::integer as age_min,
        age_fin::integer as age_fin
    from tranches
)

select * from final
