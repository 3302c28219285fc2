-- Per indicator, the observation zones whose rate is published (row not under the secret), and
-- all its zone rows: the first thing an analyst sees on the zone map, and the console's line.
-- Grain: one row per indicator of the period.
-- Sources: the publication's `indicateurs` table (published/recours.duckdb).
-- Parameters: $periode, the period (AAAA-MM).
select
    indicateur,
    count(*) filter (where not secret) as zones_avec_valeur,
    count(*) as zones
from indicateurs
where periode = $periode and niveau = 'zone'
group by indicateur
order by indicateur
