"""Faulty servers and the kill run: how much the conformance suite actually catches.

``gallery`` holds variants of the reference server, each with exactly one realistic bug and
named after the spec behaviour it breaks; ``killrun`` serves each variant in its own process,
runs the suite against it and judges whether a scenario tagged with the broken behaviour failed;
``python -m tests.mutants`` runs it and writes ``docs/conformance-power.md``.
"""
