-- Over cost_cases: interchangeable cases of a specialty (one row per key), how many, and the
-- moments of the observed cost O of verified cases. A key keeps the codes only where priced.
SELECT specialty, outcome,
       CASE WHEN priced THEN initial_code END AS initial_code,
       CASE WHEN priced THEN recommended_code END AS recommended_code,
       priced, unpriced, closed, c_den, c_num, l_den, l_num, verified,
       count(*) AS n,
       avg(CASE WHEN verified THEN observed_cost ELSE 0 END) AS o_mean,
       coalesce(var_pop(CASE WHEN verified THEN observed_cost ELSE 0 END), 0) AS o_var
FROM cost_cases
GROUP BY ALL
