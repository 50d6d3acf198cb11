"""Models of Second Look (text classifier, change propensity), free of Dagster and the warehouse.

OpenMP workers wait passively here. On a machine shared with other jobs, libgomp's default of
spinning at every barrier made a 6,000-case boosted-tree fit take 178 s instead of 3 s when its
threads competed with other processes; a passive wait lets the trees use every core without
that collapse. libgomp reads the variable once, when scikit-learn first loads it, which is why it
is set on importing this package (before any model module imports scikit-learn); a value the
user set is kept.
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
