-- Records of the crossing that hold neither a NIR nor identity traits: they link to nobody.
-- Grain: one row per (crossing, source) with such records.
-- Sources: `grappes` (final clusters), `enregistrements`.
select $croisement as croisement, enregistrements.source, count(*) as n
from grappes
inner join enregistrements using (n)
where grappes.grappe like 'c:%'
group by all
