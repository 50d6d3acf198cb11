"""Models of Second Look (text classifier, change propensity), free of Dagster and the warehouse.

OpenMP workers spin only briefly here. On a machine shared with other jobs, libgomp's default
(spin 300,000 times at every barrier) made a 6,000-case boosted-tree fit take 178 s instead of
3 s when its threads competed with other processes. A passive wait (OMP_WAIT_POLICY=PASSIVE)
avoids that but puts a thread to sleep at each of the trees' many small barriers: on an idle
2-core machine a 200k-row fit took 6.0 s on 2 threads, against 2.5 s on one. A spin of 10,000
(GOMP_SPINCOUNT) keeps both: 2.0 s idle and 4.6 s with both cores taken by other processes
(3.8 s passive, 29.4 s with the default). libgomp reads the variable once, when scikit-learn
first loads it, which is why it is set on importing this package (before any model module
imports scikit-learn); a wait policy or spin count the user set is kept.
"""

import os

if "OMP_WAIT_POLICY" not in os.environ:
    os.environ.setdefault("GOMP_SPINCOUNT", "10000")
