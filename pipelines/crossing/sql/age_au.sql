-- Macro age_au(mois_naissance, reference): completed years at the reference date.
-- Grain: a scalar, for the per-source tables (sql/sources/*.sql).
-- Sources: none (a macro of its two arguments).
-- mois_naissance is 'AAAA-MM' (ingest keeps no day): a person born in the reference month
-- counts as having had their birthday.
create or replace macro age_au(mois_naissance, reference) as
    year(reference) - cast(left(mois_naissance, 4) as integer)
    - case when cast(right(mois_naissance, 2) as integer) > month(reference) then 1 else 0 end
