-- Over cost_cases: coarse keys of the segments (payer type, plan): only priced changes carry
-- money, so the other cases of a segment differ only in being closed or not. Per key the moments
-- of x_init = P(initial), x_rec = P(recommended) and x_o = O at the prices in force.
WITH x AS (
    SELECT c.*, CASE WHEN c.priced THEN coalesce(pi.price, 0) ELSE 0 END AS x_init,
           CASE WHEN c.priced THEN coalesce(pr.price, 0) ELSE 0 END AS x_rec,
           CASE WHEN c.verified THEN c.observed_cost ELSE 0 END AS x_o
    FROM cost_cases c
    LEFT JOIN core.prices pi ON pi.procedure_code = c.initial_code
    LEFT JOIN core.prices pr ON pr.procedure_code = c.recommended_code
), cut AS (
    SELECT 'payer_type' AS dimension, payer_type AS segment, * FROM x
    UNION ALL SELECT 'plan_id', plan_id, * FROM x
)
SELECT dimension, segment,
       CASE WHEN priced THEN specialty END AS specialty, CASE WHEN priced THEN outcome END AS outcome,
       priced, verified, closed, count(*) AS n,
       avg(x_init) AS m_x_init, avg(x_rec) AS m_x_rec, avg(x_o) AS m_x_o,
       avg(x_init * x_init) AS s_x_init_x_init, avg(x_init * x_rec) AS s_x_init_x_rec,
       avg(x_init * x_o) AS s_x_init_x_o, avg(x_rec * x_rec) AS s_x_rec_x_rec,
       avg(x_rec * x_o) AS s_x_rec_x_o, avg(x_o * x_o) AS s_x_o_x_o
FROM cut
GROUP BY ALL
