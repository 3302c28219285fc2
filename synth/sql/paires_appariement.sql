-- Linkage against the planted truth: the pairs of records of two different sources that the
-- linkage puts together, those the generator made the same person, and those in both.
-- Grain: one row: predicted pairs, true pairs, correct pairs (a pair is counted once, ordered
-- by source).
-- Sources: `liens` (each record's rid, source, personne_id from the linkage, and person_id
-- from truth/records/: scoring.truth_of_records), synthetic data only.
with

predites as (
    select a.rid as r1, b.rid as r2
    from liens as a
    inner join liens as b on a.personne_id = b.personne_id and a.source < b.source
),

vraies as (
    select a.rid as r1, b.rid as r2
    from liens as a
    inner join liens as b on a.person_id = b.person_id and a.source < b.source
)

select
    (select count(*) from predites) as predites,
    (select count(*) from vraies) as vraies,
    (select count(*) from predites inner join vraies using (r1, r2)) as correctes
