-- The contract the publication relies on, checked on an indicator's units: one row per unit,
-- flags never NULL.
-- Grain: one row: `doublons`, the rows whose unite_id is empty or repeated; `drapeaux_vides`,
-- the empty non_recours and connu values.
-- Sources: `unites` (the indicator's units as indicators.compute_units made them).
select
    count(unite_id) - count(distinct unite_id) + count(*) - count(unite_id) as doublons,
    count(*) - count(non_recours) + count(*) - count(connu) as drapeaux_vides
from unites
