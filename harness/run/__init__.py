"""``seenby run``: the scenario catalogue, the preflight, known-deviation files, the run itself and
its results notebook."""
